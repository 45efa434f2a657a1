"""Redis that may fail: one client, a circuit breaker, and a bounded in-process fallback store.

While Redis answers, every operation goes to it. On a Redis error the breaker opens: operations
are served from the in-process store for a cool-down (1 s, doubling per consecutive failure, capped
at REDIS_COOLDOWN_MAX: 1 s by default, so every process is back on Redis within about a second of
its return), after which the next operation, and only that one, tries Redis again (the others stay
on the store until it has its answer) and, on success, closes the breaker. Going down is logged
once as a warning, coming back once as info.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import redis
import structlog
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend.config import Settings
from backend.core import metrics

log = structlog.get_logger("homeroom.cache")
CACHE_EXTENSION = "homeroom.cache"
KEY_PREFIX = "homeroom:"
Clock = Callable[[], float]
P = ParamSpec("P")
R = TypeVar("R")


class MemoryStore:
    """A thread-safe dict with a size bound (least recently used goes first) and per-key TTLs."""

    def __init__(self, max_entries: int, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[Any, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def _live(self, key: str) -> tuple[Any, float | None] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry

    def _put(self, key: str, value: Any, expires_at: float | None) -> None:
        self._data[key] = (value, expires_at)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._live(key)
            return None if entry is None else entry[0]

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        with self._lock:
            self._put(key, value, self._expiry(ttl))

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add to a counter; a new counter gets `ttl`, an existing one keeps its expiry."""
        with self._lock:
            entry = self._live(key)
            value = (int(entry[0]) if entry else 0) + amount
            self._put(key, value, entry[1] if entry else self._expiry(ttl))
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


OnDown = Callable[[Exception, float], None]
OnUp = Callable[[float], None]


class CircuitBreaker:
    """Closed while calls succeed; open (calls refused) for a growing cool-down after failures.

    `on_down(error, cooldown)` runs once when the first failure opens it and `on_up(down_seconds)`
    once when a success closes it again: the owner logs and counts the switch (Redis, the
    assistant's language model)."""

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 30.0,
        clock: Clock = time.monotonic,
        *,
        on_down: OnDown | None = None,
        on_up: OnUp | None = None,
    ) -> None:
        self.base, self.cap = base, cap
        self._clock = clock
        self._on_down, self._on_up = on_down, on_up
        self._failures = 0
        self._open_until = 0.0
        self._down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._failures > 0

    def allows_attempt(self) -> bool:
        """Whether a call would be tried now (a question: nothing is claimed)."""
        return self._clock() >= self._open_until

    def claim_attempt(self) -> bool:
        """Whether this caller tries now: always while closed; while open, one caller per cool-down
        (the probe), so a dependency that hangs costs one timeout per cool-down, not one per call."""
        if not self._failures:
            return True
        with self._lock:
            now = self._clock()
            if not self._failures:
                return True
            if now < self._open_until:
                return False
            self._open_until = now + self.cooldown(self._failures)  # until the probe's answer
            return True

    def cooldown(self, failures: int) -> float:
        return min(self.cap, self.base * 2.0 ** (failures - 1))

    def record_failure(self, error: Exception) -> None:
        with self._lock:
            self._failures += 1
            cooldown = self.cooldown(self._failures)
            self._open_until = self._clock() + cooldown
            if self._failures == 1:
                self._down_since = self._clock()
                if self._on_down is not None:
                    self._on_down(error, cooldown)

    def record_success(self) -> None:
        if not self._failures:
            return
        with self._lock:
            if self._failures:
                down_for = self._clock() - (self._down_since or self._clock())
                self._failures, self._open_until, self._down_since = 0, 0.0, None
                if self._on_up is not None:
                    self._on_up(down_for)


def _redis_down(error: Exception, cooldown: float) -> None:
    metrics.redis_state(up=False, switched_to_fallback=True)
    log.warning(
        "redis_unavailable", error_type=type(error).__name__, fallback="in_process", retry_in_seconds=cooldown
    )


def _redis_up(down_for: float) -> None:
    metrics.redis_state(up=True)
    log.info("redis_recovered", down_seconds=round(down_for, 1))


class Cache:
    """get / set / delete / incr and JSON values, on Redis when it answers, in-process otherwise."""

    def __init__(
        self,
        url: str | None,
        *,
        timeout: float = 0.5,
        max_entries: int = 10_000,
        cooldown_max: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.memory = MemoryStore(max_entries, clock)
        self.breaker = CircuitBreaker(cap=cooldown_max, clock=clock, on_down=_redis_down, on_up=_redis_up)
        self.redis: redis.Redis | None = None
        if url:
            # No client-side retries: the breaker decides when Redis is tried again.
            self.redis = redis.Redis.from_url(
                url,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                decode_responses=True,
            )

    @property
    def status(self) -> str:
        if self.redis is None:
            return "not_configured"
        return "degraded" if self.breaker.is_open else "ok"

    def _run(self, on_redis: Callable[[redis.Redis], R], on_memory: Callable[[MemoryStore], R]) -> R:
        if self.redis is None or not self.breaker.claim_attempt():
            return on_memory(self.memory)
        try:
            result = on_redis(self.redis)
        except redis.RedisError as error:
            self.breaker.record_failure(error)
            return on_memory(self.memory)
        self.breaker.record_success()
        return result

    def get(self, key: str) -> str | None:
        value: str | None = self._run(lambda r: r.get(KEY_PREFIX + key), lambda m: m.get(key))
        return value

    def set(self, key: str, value: str | int, ttl: int | None = None) -> None:
        self._run(lambda r: r.set(KEY_PREFIX + key, value, ex=ttl), lambda m: m.set(key, str(value), ttl))

    def delete(self, key: str) -> None:
        self._run(lambda r: r.delete(KEY_PREFIX + key), lambda m: m.delete(key))

    def incr(self, key: str, amount: int = 1, ttl: int | None = None) -> int:
        """Add to a counter; `ttl` is set when the counter is created."""

        def on_redis(client: redis.Redis) -> int:
            with client.pipeline() as pipe:
                pipe.incrby(KEY_PREFIX + key, amount)
                if ttl is not None:
                    pipe.expire(KEY_PREFIX + key, ttl, nx=True)
                return int(pipe.execute()[0])

        return self._run(on_redis, lambda m: m.incr(key, amount, ttl))

    def get_json(self, key: str) -> Any:
        raw = self.get(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any, ttl: int | None = None) -> None:
        self.set(key, json.dumps(value, separators=(",", ":")), ttl)

    def ping(self) -> bool:
        """True when Redis answered; False when the fallback is serving (or none is configured)."""
        return self._run(lambda r: bool(r.ping()), lambda _m: False)

    def after_fork(self) -> None:
        """In a new worker: drop the parent's Redis connections and its fallback entries."""
        if self.redis is not None:
            self.redis.connection_pool.reset()
        self.memory.clear()


def init_cache(app: Flask, settings: Settings) -> Cache:
    cache = Cache(
        settings.redis_url,
        timeout=settings.redis_timeout,
        max_entries=settings.cache_max_entries,
        cooldown_max=settings.redis_cooldown_max,
    )
    app.extensions[CACHE_EXTENSION] = cache
    return cache


def current_cache() -> Cache:
    cache: Cache = current_app.extensions[CACHE_EXTENSION]
    return cache


def cached(ttl: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Cache a service function's JSON-serialisable result for `ttl` seconds, keyed by its arguments.

    Arguments must identify the result completely (pass the school id, never rely on request state).
    """

    def decorator(function: Callable[P, R]) -> Callable[P, R]:
        name = f"{function.__module__}.{function.__qualname__}"

        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            digest = hashlib.sha256(repr((args, sorted(kwargs.items()))).encode()).hexdigest()
            key = f"fn:{name}:{digest}"
            cache = current_cache()
            hit = cache.get_json(key)
            if hit is not None:
                return hit["value"]  # type: ignore[no-any-return]  # stored by this wrapper from an R
            value = function(*args, **kwargs)
            cache.set_json(key, {"value": value}, ttl)
            return value

        return wrapper

    return decorator
