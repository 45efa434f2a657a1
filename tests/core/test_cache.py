"""The Redis cache with its circuit breaker and bounded in-process fallback, against real Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from backend.core.cache import KEY_PREFIX, Cache, CircuitBreaker, MemoryStore, cached, current_cache
from tests.conftest import AppFactory, RedisServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- the in-process store -----------------------------------------------------------------------


def test_memory_store_stays_within_its_bound(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=100, clock=clock)
    for i in range(5000):
        store.set(f"key-{i}", i)
    assert len(store) == 100
    assert store.get("key-0") is None
    assert store.get("key-4999") == 4999


def test_memory_store_evicts_the_least_recently_used(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=3, clock=clock)
    for key in ("a", "b", "c"):
        store.set(key, key)
    assert store.get("a") == "a"  # a is now the most recently used
    store.set("d", "d")
    assert store.get("b") is None
    assert [store.get(k) for k in ("a", "c", "d")] == ["a", "c", "d"]


def test_memory_store_expires_entries(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=10, clock=clock)
    store.set("session", "x", ttl=10)
    store.set("forever", "y")
    clock.advance(9.9)
    assert store.get("session") == "x"
    clock.advance(0.1)
    assert store.get("session") is None
    assert store.get("forever") == "y"
    assert len(store) == 1  # the expired entry is gone, not just hidden


def test_memory_counter_keeps_its_first_expiry(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=10, clock=clock)
    assert store.incr("hits", ttl=60) == 1
    clock.advance(30)
    assert store.incr("hits", ttl=60) == 2
    clock.advance(30)
    assert store.incr("hits", ttl=60) == 1  # the window ended; a new counter starts


def test_breaker_cooldown_doubles_up_to_the_cap(clock: FakeClock) -> None:
    breaker = CircuitBreaker(base=1.0, cap=30.0, clock=clock)
    assert [breaker.cooldown(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    breaker.record_failure(ConnectionError())
    assert not breaker.allows_attempt()
    clock.advance(1)
    assert breaker.allows_attempt()


def test_an_open_breaker_lets_one_probe_through_per_cooldown(clock: FakeClock) -> None:
    breaker = CircuitBreaker(base=1.0, cap=1.0, clock=clock)
    assert breaker.claim_attempt() and breaker.claim_attempt()  # closed: every call goes through
    breaker.record_failure(ConnectionError())
    assert not breaker.claim_attempt()
    clock.advance(1)
    assert breaker.claim_attempt()  # the probe
    assert not breaker.claim_attempt()  # the others wait for its answer
    assert breaker.allows_attempt() is False  # asking claims nothing
    breaker.record_failure(ConnectionError())
    clock.advance(1)  # capped: a failing dependency is tried once a second, however long it fails
    assert breaker.claim_attempt()
    breaker.record_success()
    assert not breaker.is_open and breaker.claim_attempt()


def test_redis_is_tried_again_every_second_by_default(redis_server: RedisServer, clock: FakeClock) -> None:
    cache = Cache(redis_server.url, timeout=0.3, clock=clock)
    assert [cache.breaker.cooldown(n) for n in (1, 2, 5, 20)] == [1, 1, 1, 1]
    redis_server.stop()
    for _ in range(5):
        cache.get("x")
        assert cache.status == "degraded"
        clock.advance(1)
    redis_server.start()
    assert cache.get("x") is None and cache.status == "ok"


# --- the cache ----------------------------------------------------------------------------------


def test_without_redis_the_cache_works_in_process() -> None:
    cache = Cache(None)
    assert cache.status == "not_configured"
    cache.set("a", "1", ttl=60)
    assert cache.get("a") == "1"
    assert cache.incr("n") == 1 and cache.incr("n", 5) == 6
    cache.set_json("doc", {"x": [1, 2]})
    assert cache.get_json("doc") == {"x": [1, 2]}
    cache.delete("a")
    assert cache.get("a") is None
    assert cache.ping() is False


def test_values_and_counters_are_shared_through_redis(redis_server: RedisServer) -> None:
    first, second = Cache(redis_server.url), Cache(redis_server.url)
    first.set_json("profile", {"name": "Ada"}, ttl=120)
    assert second.get_json("profile") == {"name": "Ada"}
    assert first.incr("visits", ttl=60) == 1
    assert second.incr("visits", ttl=60) == 2
    raw = redis_server.client()
    assert 0 < raw.ttl(f"{KEY_PREFIX}profile") <= 120
    assert 0 < raw.ttl(f"{KEY_PREFIX}visits") <= 60
    assert first.status == "ok" and first.ping() is True


def _events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == name]


@pytest.mark.usefixtures("app")  # logging configured as the app does it
def test_outage_falls_back_and_recovery_switches_back(
    redis_server: RedisServer, clock: FakeClock, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    cache = Cache(redis_server.url, timeout=0.3, clock=clock)
    other = Cache(redis_server.url, timeout=0.3)
    cache.incr("shared")
    logs()
    redis_server.stop()
    for i in range(100):  # every call answers, from memory, without raising
        cache.set(f"k{i}", "v", ttl=60)
        assert cache.get(f"k{i}") == "v"
    assert cache.incr("local") == 1
    assert cache.status == "degraded"
    assert cache.ping() is False
    down = _events(logs(), "redis_unavailable")
    assert len(down) == 1  # logged once, not per call
    assert down[0]["level"] == "warning" and down[0]["fallback"] == "in_process"

    redis_server.start()
    assert cache.ping() is False  # still cooling down: Redis is not even tried
    clock.advance(1.0)
    assert cache.ping() is True
    assert cache.status == "ok"
    recovered = _events(logs(), "redis_recovered")
    assert len(recovered) == 1 and recovered[0]["level"] == "info"

    assert cache.incr("shared") == 1  # a fresh Redis: counters start again, and are shared again
    assert other.incr("shared") == 2


def test_repeated_failures_lengthen_the_cooldown(redis_server: RedisServer, clock: FakeClock) -> None:
    cache = Cache(redis_server.url, timeout=0.3, cooldown_max=4, clock=clock)
    redis_server.stop()
    cache.get("x")  # the first failure opens the breaker
    for cooldown in (1, 2, 4, 4):  # doubling, capped at REDIS_COOLDOWN_MAX
        clock.advance(cooldown - 0.01)
        assert not cache.breaker.allows_attempt()
        clock.advance(0.01)
        assert cache.breaker.allows_attempt()
        cache.get("x")  # Redis is tried, fails again, and the next cool-down starts


def test_cached_service_function(app: Flask) -> None:
    calls: list[tuple[str, int]] = []

    @cached(ttl=60)
    def term_summary(school_id: str, year: int) -> dict[str, Any]:
        calls.append((school_id, year))
        return {"school": school_id, "year": year}

    with app.app_context():
        assert term_summary("s1", 2026) == {"school": "s1", "year": 2026}
        assert term_summary("s1", 2026) == {"school": "s1", "year": 2026}
        assert term_summary("s2", 2026)["school"] == "s2"
        assert calls == [("s1", 2026), ("s2", 2026)]


def test_cached_none_is_cached_too(app: Flask) -> None:
    calls = []

    @cached(ttl=60)
    def nothing() -> None:
        calls.append(1)

    with app.app_context():
        nothing()
        nothing()
    assert calls == [1]


def test_app_cache_uses_redis_url(make_app: AppFactory, redis_server: RedisServer) -> None:
    app = make_app(REDIS_URL=redis_server.url)
    with app.app_context():
        current_cache().set("from-app", "yes")
    assert redis_server.client().get(f"{KEY_PREFIX}from-app") == "yes"
