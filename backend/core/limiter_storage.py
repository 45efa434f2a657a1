"""One Redis round trip per rate-limit hit, headers included.

Flask-Limiter counts a hit (one script) and later reads the window for the X-RateLimit-* headers
(a second script, or two commands for a fixed window). This storage, a `limits` Redis storage
under the scheme `homeroom+redis://`, sends both in one pipeline when it counts the hit and keeps
the window it read for the rest of the request, so the header read costs nothing. Anything else
(a `test` for conditional deductions, a read outside a request) goes to Redis as before.
"""

from __future__ import annotations

import time
from typing import Any, cast

from flask import g, has_request_context
from limits.storage import RedisStorage
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

SCHEME_PREFIX = "homeroom+"
_WINDOWS = "homeroom_limit_windows"


def storage_uri(redis_url: str) -> str:
    """The limiter storage URI for a Redis URL (redis:// and rediss:// get the pipelined storage)."""
    return SCHEME_PREFIX + redis_url if redis_url.startswith(("redis://", "rediss://")) else redis_url


def _remember(key: str, window: Any) -> None:
    if has_request_context():
        g.setdefault(_WINDOWS, {})[key] = window


def _recall(key: str) -> Any:
    """The window read with this request's hit on `key`, once (a later read goes to Redis)."""
    if not has_request_context():
        return None
    windows: dict[str, Any] | None = g.get(_WINDOWS)
    return windows.pop(key, None) if windows else None


class PipelinedRedisStorage(RedisStorage):
    STORAGE_SCHEME = ["homeroom+redis", "homeroom+rediss"]  # noqa: RUF012 - limits reads it as a plain list

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri.removeprefix(SCHEME_PREFIX), **options)

    def _pipelined(self, *calls: tuple[Script, list[str], list[Any]], ttl_of: str | None = None) -> list[Any]:
        """Run the scripts (by their SHA: no SCRIPT EXISTS first, as redis-py's pipelines would
        send), and optionally a TTL, in one round trip; load the scripts once if Redis lacks them."""
        client = cast(Redis, self.storage)
        for attempt in (1, 2):
            pipe = client.pipeline(transaction=False)
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            if ttl_of is not None:
                pipe.ttl(ttl_of)
            try:
                results: list[Any] = pipe.execute()
                return results
            except NoScriptError:
                if attempt == 2:
                    raise
                for script, _, _ in calls:
                    client.script_load(script.script)
        raise AssertionError("unreachable")

    # moving window (the default strategy)
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        prefixed, now = self.prefixed_key(key), time.time()
        acquired, window = self._pipelined(
            (self.lua_acquire_moving_window, [prefixed], [now, limit, expiry, amount]),
            (self.lua_moving_window, [prefixed], [now - expiry, limit]),
        )
        _remember(key, (float(window[0]), window[1]) if window else (now, 0))
        return bool(acquired)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        window = _recall(key)
        return window if window is not None else super().get_moving_window(key, limit, expiry)

    # fixed window
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        prefixed = self.prefixed_key(key)
        count, ttl = self._pipelined((self.lua_incr_expire, [prefixed], [expiry, amount]), ttl_of=prefixed)
        _remember(key, (int(count), max(int(ttl), 0) + time.time()))
        return int(count)

    def get(self, key: str) -> int:
        window = _recall(key)
        if window is None:
            return super().get(key)
        _remember(key, window)  # get_expiry comes next, for the same window
        return int(window[0])

    def get_expiry(self, key: str) -> float:
        window = _recall(key)
        return float(window[1]) if window is not None else super().get_expiry(key)

    # sliding window counter
    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        previous = self.prefixed_key(self._previous_window_key(key))
        current = self.prefixed_key(self._current_window_key(key))
        acquired, window = self._pipelined(
            (self.lua_acquire_sliding_window, [previous, current], [limit, expiry, amount]),
            (self.lua_sliding_window, [previous, current], [expiry]),
        )
        _remember(
            key,
            (
                int(window[0] or 0),
                max(0, float(window[1] or 0)) / 1000,
                int(window[2] or 0),
                max(0, float(window[3] or 0)) / 1000,
            )
            if window
            else (0, 0.0, 0, 0.0),
        )
        return bool(acquired)

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        window = _recall(key)
        return window if window is not None else super().get_sliding_window(key, expiry)
