"""The language model: any OpenAI-compatible chat-completions API, over httpx, behind a breaker.

Every call is bounded: connect and read timeouts, a deadline for the whole answer however the
server trickles it, a cap on the body's size and on the answer's length. A failure (refused,
timed out, an error status, a body that is not a chat completion, an answer that is empty or not
text) opens the breaker like Redis's: no calls for a cool-down that doubles per failure, then one
try. Callers fall back to the offline answer. The API key goes only into the Authorization header:
never into logs, errors or health output.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx
import structlog
from flask import Flask, current_app

from backend.config import Settings
from backend.core import metrics
from backend.core.cache import CircuitBreaker

log = structlog.get_logger("homeroom.assistant")
MODEL_EXTENSION = "homeroom.assistant_model"
MAX_BODY_BYTES = 256 * 1024
Messages = list[dict[str, str]]


class ModelFailure(Exception):
    """The model gave no usable answer; `outcome` is the metric label (timeout, error, malformed,
    breaker_open)."""

    def __init__(self, outcome: str, reason: str = "") -> None:
        super().__init__(reason or outcome)
        self.outcome = outcome


def endpoint(base_url: str) -> str:
    """`https://host/v1` -> `https://host/v1/chat/completions` (a full endpoint is kept as is)."""
    base = base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


def _model_down(error: Exception, cooldown: float) -> None:
    log.warning(
        "assistant_model_unavailable",
        outcome=getattr(error, "outcome", "error"),
        fallback="offline",
        retry_in_seconds=cooldown,
    )


def _model_up(down_for: float) -> None:
    log.info("assistant_model_recovered", down_seconds=round(down_for, 1))


def clean_answer(raw: Any, max_chars: int) -> str:
    """The model's answer, trimmed to `max_chars` at a word boundary; ModelFailure when it is not
    an answer at all (not text, empty, control characters, no letters)."""
    if not isinstance(raw, str):
        raise ModelFailure("malformed", "the answer is not text")
    text = raw.strip()
    if not text or not any(c.isalpha() for c in text):
        raise ModelFailure("malformed", "the answer is empty")
    if any(ord(c) < 32 and c not in "\n\t\r" for c in text):
        raise ModelFailure("malformed", "the answer holds control characters")
    if len(text) > max_chars:
        text = text[: max_chars - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return text


class ChatModel:
    """One configured model; one per app, its HTTP client made per process (after Gunicorn forks)."""

    def __init__(self, settings: Settings, *, clock: Any = time.monotonic) -> None:
        if not settings.assistant_api_url or not settings.assistant_model:
            raise ValueError("ASSISTANT_API_URL and ASSISTANT_MODEL are both needed")
        self.url = endpoint(settings.assistant_api_url)
        self.model = settings.assistant_model
        self._key = settings.assistant_api_key
        self._timeout = httpx.Timeout(
            connect=settings.assistant_connect_timeout,
            read=settings.assistant_read_timeout,
            write=settings.assistant_read_timeout,
            pool=settings.assistant_connect_timeout,
        )
        self._deadline = settings.assistant_total_timeout
        self._max_tokens = settings.assistant_max_tokens
        self._max_chars = settings.assistant_max_answer_chars
        self._clock = clock
        self.breaker = CircuitBreaker(
            cap=settings.assistant_breaker_cooldown_max, clock=clock, on_down=_model_down, on_up=_model_up
        )
        self._client: tuple[int, httpx.Client] | None = None

    @property
    def status(self) -> str:
        return "degraded" if self.breaker.is_open else "ok"

    def _http(self) -> httpx.Client:
        if self._client is None or self._client[0] != os.getpid():
            headers = {"Accept": "application/json"}
            if self._key is not None:
                headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
            self._client = (os.getpid(), httpx.Client(timeout=self._timeout, headers=headers))
        return self._client[1]

    def complete(self, messages: Messages) -> str:
        """The model's answer to `messages`, or ModelFailure (and the breaker counts it)."""
        if not self.breaker.allows_attempt():
            raise ModelFailure("breaker_open")
        started = self._clock()
        try:
            answer = clean_answer(self._request(messages), self._max_chars)
        except ModelFailure as failure:
            log.warning("assistant_model_failed", outcome=failure.outcome, reason=str(failure))
            self.breaker.record_failure(failure)
            raise
        self.breaker.record_success()
        metrics.ASSISTANT_MODEL_SECONDS.observe(self._clock() - started)
        return answer

    def _request(self, messages: Messages) -> Any:
        payload = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self._max_tokens,
            "temperature": 0.2,
        }
        deadline = self._clock() + self._deadline
        try:
            with self._http().stream("POST", self.url, json=payload) as response:
                if response.status_code != 200:
                    raise ModelFailure("error", f"HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise ModelFailure("malformed", "the body is too large")
                    if self._clock() > deadline:
                        raise ModelFailure("timeout", "the answer took too long")
        except httpx.TimeoutException:
            raise ModelFailure("timeout", "no answer in time") from None
        except httpx.HTTPError as error:
            raise ModelFailure("error", type(error).__name__) from None
        try:
            return json.loads(body)["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError):
            raise ModelFailure("malformed", "not a chat completion") from None


def init_model(app: Flask, settings: Settings) -> None:
    app.extensions[MODEL_EXTENSION] = ChatModel(settings) if settings.assistant_api_url else None


def current_model() -> ChatModel | None:
    model: ChatModel | None = current_app.extensions.get(MODEL_EXTENSION)
    return model


def check_model(app: Flask) -> dict[str, Any]:
    """`/api/health`: `not_configured`, `ok`, or `degraded` while the breaker is open (answers are
    offline meanwhile). It makes no call: a probe must not spend the school's model budget."""
    model: ChatModel | None = app.extensions.get(MODEL_EXTENSION)
    if model is None:
        return {"status": "not_configured"}
    return {"status": model.status, "model": model.model}
