"""Closing without waiting (core/lingering.py): FIN at once, the rest from the poller, bounded."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator

import pytest

from backend.core.lingering import LINGER_DRAIN_BYTES, Lingering


@pytest.fixture
def poller() -> Iterator[selectors.BaseSelector]:
    with selectors.DefaultSelector() as selector:
        yield selector


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected (server side, client side) pair of TCP sockets on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    yield server, client
    server.close()
    client.close()


def _run(poller: selectors.BaseSelector, lingering: Lingering, rounds: int = 50) -> None:
    """Dispatch poller events until nothing lingers (bounded)."""
    for _ in range(rounds):
        if not len(lingering):
            return
        for key, _ in poller.select(timeout=0.1):
            key.data(key.fileobj)


def test_the_client_sees_the_end_at_once_and_the_socket_closes_when_it_does(
    poller: selectors.BaseSelector, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = tcp_pair
    server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    lingering = Lingering(poller)
    lingering.close(server)
    assert len(lingering) == 1  # parked in the poller while the client still holds its end: no wait
    assert client.recv(100).startswith(b"HTTP/1.1 200")
    assert client.recv(100) == b""  # FIN: the answer is complete
    client.close()
    _run(poller, lingering)
    assert len(lingering) == 0 and server.fileno() == -1


def test_unread_bytes_do_not_reset_the_answer(
    poller: selectors.BaseSelector, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = tcp_pair
    client.sendall(b"x" * 1000)  # the server never reads these before closing
    time.sleep(0.1)
    server.sendall(b"answer")
    lingering = Lingering(poller)
    lingering.close(server)
    _run(poller, lingering, rounds=3)  # the linger reads and drops them
    assert client.recv(100) == b"answer"  # not a reset
    assert client.recv(100) == b""


def test_a_client_that_never_closes_is_closed_when_the_linger_is_over(
    poller: selectors.BaseSelector, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, _client = tcp_pair
    lingering = Lingering(poller, seconds=0.05)
    lingering.close(server)
    lingering.sweep()
    assert len(lingering) == 1  # not over yet
    time.sleep(0.1)
    lingering.sweep()
    assert len(lingering) == 0 and server.fileno() == -1


def test_a_client_that_keeps_sending_is_cut_off_after_the_drain_limit(
    poller: selectors.BaseSelector, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = tcp_pair
    lingering = Lingering(poller, seconds=30)
    lingering.close(server)
    client.settimeout(0.5)
    sent = 0
    for _ in range(200):  # bounded: at most 200 x 4 KiB, or until the server has closed
        try:
            sent += client.send(b"y" * 4096)
        except OSError:
            break
        _run(poller, lingering, rounds=1)
        if not len(lingering):
            break
    assert len(lingering) == 0 and sent >= LINGER_DRAIN_BYTES


def test_force_ends_every_linger(
    poller: selectors.BaseSelector, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, _client = tcp_pair
    lingering = Lingering(poller, seconds=30)
    lingering.close(server)
    lingering.sweep(force=True)
    assert len(lingering) == 0 and server.fileno() == -1


def test_a_socket_already_closed_is_just_closed(poller: selectors.BaseSelector) -> None:
    left, right = socket.socketpair()
    right.close()
    left.close()
    lingering = Lingering(poller)
    lingering.close(left)
    assert len(lingering) == 0
