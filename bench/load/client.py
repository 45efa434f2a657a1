"""What a load client sees of one answer, and how it waits and retries (used in the Locust process)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

# Kinds of failure where the client cannot know whether the server acted on the request.
TRANSPORT = frozenset({"timeout", "reset", "refused", "cut", "other"})
MAX_SIGN_INS = 5
MAX_PAUSE = 5.0
# Gunicorn closes a connection idle this long (GUNICORN_KEEPALIVE): a client that waited about as
# long opens a new one, as browsers do, rather than race the server's close.
KEEPALIVE_SECONDS = 5.0


class JsonLines:
    """An append-only JSON Lines file, one line per call, flushed at once (line buffering)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1, encoding="utf-8")

    def write(self, **fields: Any) -> None:
        self._file.write(json.dumps(fields, separators=(",", ":"), default=str) + "\n")


@dataclass
class Reply:
    status: int  # 0 when no answer came
    kind: str  # ok, http_<status>, invalid, or one of TRANSPORT
    body: Any
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def header(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default


def transport_kind(error: BaseException | None) -> str:
    if isinstance(error, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(error, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return "cut"  # the answer started, then the connection ended
    if "refused" in repr(error).lower():
        return "refused"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "reset"
    return "other"


def to_reply(response: Any) -> Reply:
    error = getattr(response, "error", None)
    status = int(getattr(response, "status_code", 0) or 0)
    if error is not None or status == 0:
        return Reply(0, transport_kind(error), None, {})
    headers = dict(response.headers)
    body: Any = response.text
    if headers.get("Content-Type", "").startswith(("application/json", "application/problem+json")):
        try:
            body = response.json()
        except ValueError:
            return Reply(status, "invalid", body, headers)
    return Reply(status, "ok" if status < 400 else f"http_{status}", body, headers)


def retryable(reply: Reply, *, lost: bool = True) -> bool:
    """Worth repeating unchanged: the server said "later" (503, 429), or (when `lost`) the answer
    never came."""
    return reply.status in (429, 503) or (lost and reply.kind in TRANSPORT)


def pause(reply: Reply) -> float:
    """Wait as the server asked (Retry-After, at most MAX_PAUSE s), else a second; the seconds."""
    try:
        seconds = float(reply.header("Retry-After") or 1)
    except ValueError:
        seconds = 1.0
    seconds = min(max(seconds, 0.2), MAX_PAUSE)
    time.sleep(seconds)
    return seconds
