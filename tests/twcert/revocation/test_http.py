"""UrllibFetcher against loopback servers: an overall deadline, not one per read, and
redirects to http and https only."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from twcert.revocation.http import FetchError, UrllibFetcher


class RawServer:
    """A loopback TCP server running ``reply(conn)`` for each connection, counting them."""

    def __init__(self, reply: Callable[[socket.socket], None] | None = None) -> None:
        self.reply = reply
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/x.crl", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)  # the request
                if self.reply is not None:
                    self.reply(conn)
            except OSError:
                pass

    def trickle(self, data: bytes) -> Callable[[socket.socket], None]:
        """A reply sending ``data`` one byte a second (until the test ends)."""

        def reply(conn: socket.socket) -> None:
            for byte in data:
                if self._stop.wait(1.0):
                    return
                conn.sendall(bytes((byte,)))

        return reply

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


def _fetch_time(url: str, timeout: float) -> tuple[float, FetchError]:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        UrllibFetcher().get(url, timeout=timeout, max_bytes=1 << 20)
    return time.monotonic() - started, info.value


def test_a_body_sent_a_byte_a_second_hits_the_overall_deadline(raw: RawServer) -> None:
    # Each byte arrives well within the timeout, so a per-read timeout never fires; the
    # server would take 60 s for the body.
    raw.reply = lambda conn: (
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"),
        raw.trickle(b"x" * 60)(conn),
    )[1]
    elapsed, error = _fetch_time(raw.url(), timeout=2.0)
    assert "deadline" in str(error)
    assert elapsed < 20  # the deadline (2 s) plus scheduling slack, far below the 60 s trickle


def test_headers_sent_a_byte_a_second_hit_the_overall_deadline(raw: RawServer) -> None:
    # Stuck inside the standard library's status-line and header parsing.
    raw.reply = raw.trickle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 60 + b"\r\n\r\n")
    elapsed, error = _fetch_time(raw.url(), timeout=2.0)
    assert "deadline" in str(error)
    assert elapsed < 20


def test_body_without_length_cut_by_the_deadline_is_not_a_short_success(raw: RawServer) -> None:
    # Without Content-Length the end of data ends the body: the watchdog's shutdown must not
    # pass for it.
    raw.reply = lambda conn: (
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nab"),
        raw.trickle(b"c" * 60)(conn),
    )[1]
    _, error = _fetch_time(raw.url(), timeout=2.0)
    assert "deadline" in str(error)


def test_a_prompt_answer_is_read_whole(raw: RawServer) -> None:
    body = bytes(range(256)) * 1000
    raw.reply = lambda conn: conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    response = UrllibFetcher().get(raw.url(), timeout=10.0, max_bytes=1 << 20)
    assert response.status == 200 and response.body == body


def test_redirect_to_ftp_is_refused_without_connecting(raw: RawServer) -> None:
    with RawServer(lambda conn: conn.sendall(b"220 ftp ready\r\n")) as ftp:
        target = ftp.url("/crl/x.crl", scheme="ftp")
        raw.reply = lambda conn: conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: " + target.encode() + b"\r\nContent-Length: 0\r\n\r\n"
        )
        with pytest.raises(FetchError, match="ftp"):
            UrllibFetcher().get(raw.url(), timeout=5.0, max_bytes=1 << 20)
        time.sleep(0.3)  # the accept loop polls every 0.2 s
        assert raw.connections == 1
        assert ftp.connections == 0


def test_redirect_to_http_is_followed(raw: RawServer) -> None:
    with RawServer(lambda conn: conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nCRL")) as target:
        location = target.url("/moved.crl")
        raw.reply = lambda conn: conn.sendall(
            b"HTTP/1.1 301 Moved\r\nLocation: " + location.encode() + b"\r\nContent-Length: 0\r\n\r\n"
        )
        assert UrllibFetcher().get(raw.url(), timeout=5.0, max_bytes=1 << 20).body == b"CRL"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x.crl", "file:///etc/passwd", "ldap://h/cn=x"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="scheme"):
        UrllibFetcher().get(url, timeout=1.0)
