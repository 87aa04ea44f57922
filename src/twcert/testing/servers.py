"""Loopback servers for tests: a CRL/certificate repository, and a real OpenSSL OCSP responder.

Both bind 127.0.0.1 on a free port and stop cleanly; host apps can use them in their own
tests to exercise revocation end to end without the network.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.server
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .pki import FakeCA, Issued

__all__ = ["OpenSSLOCSPResponder", "RepositoryServer", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RepositoryServer:
    """Serves bytes by path (CRLs, CA certificates) with ETag/304 support and request counts.

    ``server.files["/crl/MOICA2/complete.crl"] = der``; ``server.down = True`` answers 503.
    """

    def __init__(self, files: Mapping[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.down = False
        self.delay = 0.0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                outer.requests[path] += 1
                if outer.delay:
                    time.sleep(outer.delay)
                body = outer.files.get(path)
                if outer.down:
                    self.send_error(503)
                    return
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if self.headers.get("If-None-Match") == etag:
                    outer.not_modified[path] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> RepositoryServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _index_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")


class OpenSSLOCSPResponder:
    """``openssl ocsp`` serving a CA's index on 127.0.0.1 (a real responder, not a mock).

    :param ca: the issuing CA the responder answers for.
    :param responder: the signing certificate (a delegated responder, or ``ca`` itself).
    :param entries: ``(certificate, status, revoked_at, reason)`` with status "V" or "R".
    """

    def __init__(
        self,
        ca: FakeCA,
        responder: Issued,
        entries: list[tuple[x509.Certificate, str, dt.datetime | None, str | None]],
        *,
        port: int | None = None,
        next_update_minutes: int = 60,
    ) -> None:
        self.ca = ca
        self.responder = responder
        self.entries = entries
        self.port = port or free_port()
        self.next_update_minutes = next_update_minutes
        self._dir = Path(tempfile.mkdtemp(prefix="twcert-ocsp-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _write(self) -> list[str]:
        lines = []
        for cert, status, revoked_at, reason in self.entries:
            revoked = ""
            if status == "R":
                revoked = _index_time(revoked_at or dt.datetime.now(dt.UTC)) + (
                    f",{reason}" if reason else ""
                )
            # The subject column is informational for the responder; keep it ASCII-safe.
            lines.append(
                f"{status}\t{_index_time(cert.not_valid_after_utc)}\t{revoked}\t{cert.serial_number:X}\tunknown\t/CN=x"
            )
        (self._dir / "index.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self._dir / "index.txt.attr").write_text("unique_subject = no\n", encoding="utf-8")
        (self._dir / "ca.pem").write_bytes(self.ca.pem)
        (self._dir / "rsigner.pem").write_bytes(self.responder.pem)
        (self._dir / "rkey.pem").write_bytes(
            self.responder.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return [
            # OpenSSL 3.0 takes only a port number here (it cannot bind one address); tests reach
            # it on 127.0.0.1.
            "openssl", "ocsp", "-index", str(self._dir / "index.txt"), "-port", str(self.port),
            "-CA", str(self._dir / "ca.pem"), "-rsigner", str(self._dir / "rsigner.pem"),
            "-rkey", str(self._dir / "rkey.pem"), "-nmin", str(self.next_update_minutes), "-ignore_err",
        ]  # fmt: skip

    def start(self) -> None:
        if shutil.which("openssl") is None:
            raise RuntimeError("openssl is not installed")
        command = self._write()
        self._log = open(self._dir / "stderr.log", "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log)
        # The responder prints "ACCEPT [::]:PORT" once listening. (Probing with a TCP connect
        # instead would block it: it serves one connection at a time and waits on the probe.)
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], 10)
        line = self._process.stdout.readline() if ready else b""
        if not line.startswith(b"ACCEPT"):
            self.stop()
            raise RuntimeError(f"openssl ocsp did not start: {line!r}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            if self._process.stdout:
                self._process.stdout.close()
            self._log.close()
            self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> OpenSSLOCSPResponder:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Temporarily take the responder down (the "responder down" case)."""
        self.stop()
        try:
            yield
        finally:
            self._dir.mkdir(parents=True, exist_ok=True)
            self.start()
