"""Bring the demo up on loopback: world, local signing agent, web app — and down again.

Order matters: the web socket is bound first (its port may be chosen by the system), so the
certificates can point at the demo's own ``/pki/`` and the agent can allow exactly the demo's
origin; then the world is built, the agent started, and the app served.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from werkzeug.serving import BaseWSGIServer, make_server

from ..card.agent import AgentConfig, LocalAgent
from ..card.guard import PinGuard
from .site import DemoSite
from .state import build_state

__all__ = ["HOST", "DemoServer", "Framework", "PortInUseError"]

#: The demo serves on loopback only: its cards are test cards with printed PINs.
HOST = "127.0.0.1"
Framework = Literal["flask", "django"]
_WSGI = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PortInUseError(OSError):
    """A port the demo needs is taken; ``option`` names the flag that chooses another."""

    def __init__(self, port: int, option: str, reason: str) -> None:
        super().__init__(f"127.0.0.1:{port} is not available ({reason}); choose another with {option}")
        self.port = port
        self.option = option


def _bind(port: int, option: str, app: Any) -> BaseWSGIServer:
    _check_free(port, option)  # Werkzeug would print its own advice and exit instead
    try:
        return make_server(HOST, port, app, threaded=True)
    except (OSError, SystemExit) as exc:
        raise PortInUseError(port, option, "in use") from exc


def _check_free(port: int, option: str) -> None:
    """Fail before the slow part (building the PKI and cards) if ``port`` is taken."""
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((HOST, port))
    except OSError as exc:
        raise PortInUseError(port, option, exc.strerror or str(exc)) from exc
    finally:
        probe.close()


class _Dispatcher:
    """The WSGI app behind the bound socket, set once the world is built."""

    app: _WSGI | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
            return ["示範網站啟動中，請稍候。".encode()]
        return self.app(environ, start_response)


@dataclass
class DemoServer:
    """The running demo. ``port``/``agent_port`` 0 pick free ports (tests)."""

    directory: Path
    port: int = 5000
    agent_port: int = 61161
    framework: Framework = "flask"
    #: The vacancy board's date (``--today``); ``None``: today.
    board_date: dt.date | None = None

    def __post_init__(self) -> None:
        self.site: DemoSite | None = None
        self._http: BaseWSGIServer | None = None
        self._agent: LocalAgent | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the demo is not started")
        return f"http://{HOST}:{self._http.server_port}"

    def start(self) -> DemoServer:
        dispatcher = _Dispatcher()
        # Both ports are checked before the PKI and cards are built (that takes a while).
        self._http = _bind(self.port, "--port", dispatcher)
        try:
            _check_free(self.agent_port, "--agent-port")
            state = build_state(self.directory, base_url=f"{self.url}/pki")
            # SoftHSM reads SOFTHSM2_CONF when this process first loads the module.
            os.environ.update(state.hsm.env)
            from ..card.pkcs11 import Pkcs11Module

            module = Pkcs11Module(
                state.hsm.module,
                guard=PinGuard.from_file(state.agent_ledger),
                issuers=state.pki.trust_store().issuers,
            )
            port = self._http.server_port
            origins = [self.url, f"http://localhost:{port}"]
            self._agent = LocalAgent(module, AgentConfig.with_origins(origins, port=self.agent_port)).start()
            self.site = DemoSite(
                state, agent_url=self._agent.url, agent=self._agent, board_date=self.board_date
            )
            self.site.seed()
            dispatcher.app = self._app(self.site)
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.2}, name="twcert-demo", daemon=True
        )
        self._thread.start()
        self._write_run_file()
        return self

    def _app(self, site: DemoSite) -> _WSGI:
        if self.framework == "django":
            from .django_app import create_app as create_django_app

            django_app: _WSGI = create_django_app(site)
            return django_app
        from .flask_app import create_app

        app: _WSGI = create_app(site)
        return app

    @property
    def agent_url(self) -> str:
        if self._agent is None:
            raise RuntimeError("the demo is not started")
        return self._agent.url

    def _write_run_file(self) -> None:
        info = {"url": self.url, "agent_url": self.agent_url, "pid": os.getpid(), "framework": self.framework}
        # Written whole, then renamed: whoever waits for run.json never reads it half written.
        final = self.directory / "run.json"
        partial = final.with_name(f".run.json.{os.getpid()}")
        partial.write_text(json.dumps(info) + "\n", encoding="utf-8")
        os.replace(partial, final)

    def stop(self) -> None:
        """Stop serving, stop the agent; safe to call twice."""
        http, self._http = self._http, None
        if http is not None:
            if self._thread is not None:
                http.shutdown()
                self._thread.join(10)
                self._thread = None
            http.server_close()
        agent, self._agent = self._agent, None
        if agent is not None:
            agent.stop()
        (self.directory / "run.json").unlink(missing_ok=True)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
