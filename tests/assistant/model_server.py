"""A real HTTP server on 127.0.0.1 speaking the chat-completions protocol, for the assistant tests.

It records every request it receives (headers and JSON body) and answers as told: `normal`
(an answer built from the facts it was sent), `slow` (holds the request until released),
`error` (500), `malformed` (a body that is not a chat completion), `empty` (no content) or
`huge` (an answer far over the length bound).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-test-" + "k3y" * 8  # what the tests configure; it must never leave the header


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        """Everything the model was shown, as one string."""
        return "\n".join(str(message.get("content")) for message in self.body.get("messages", []))


@dataclass
class ModelServer:
    mode: str = "normal"
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    answered: int = 0
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def reply(self, body: dict[str, Any]) -> tuple[int, bytes]:
        if self.mode == "error":
            return 500, b'{"error": {"message": "internal"}}'
        if self.mode == "malformed":
            return 200, b'{"choices": "not a list"'
        if self.mode == "empty":
            return 200, json.dumps({"choices": [{"message": {"role": "assistant", "content": ""}}]}).encode()
        if self.mode == "slow":
            self.release.wait(timeout=30)
        system = body["messages"][0]["content"]
        facts = [line[2:] for line in system.splitlines() if line.startswith("- ")]
        content = "MODEL ANSWER: " + " ".join(facts) if self.mode != "huge" else "word " * 5000
        completion = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        }
        return 200, json.dumps(completion).encode()

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.received.append(Received(dict(self.headers.items()), body))
                status, payload = owner.reply(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    owner.answered += 1
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
