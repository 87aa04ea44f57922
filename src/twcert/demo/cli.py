"""``twcert demo``: the manual's demo site on loopback, on embedded defaults.

Builds a fresh world in the state directory (``--dir``, ``$TWCERT_DEMO_DIR``, else
``$XDG_STATE_HOME/twcert/demo``), starts the local signing agent on 61161 and the site on
http://127.0.0.1:5000, prints the test cards and their PINs, and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import signal
import sys
import threading
import unicodedata
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .server import Framework

__all__ = ["register"]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2

#: Modules the demo needs, and the extra that installs each.
_NEEDS: Final = {"flask": "flask", "pkcs11": "pkcs11", "sqlalchemy": "sql", "phonenumbers": "vacancy"}


def default_directory() -> Path:
    configured = os.environ.get("TWCERT_DEMO_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "twcert" / "demo"


def _missing(framework: str) -> list[str]:
    needs = dict(_NEEDS)
    if framework == "django":
        needs["django"] = "django"
    return [f"{module} (pip install 'twcert[{extra}]')" for module, extra in needs.items()
            if importlib.util.find_spec(module) is None]  # fmt: skip


def _pad(text: str, width: int) -> str:
    """Left-justify by display width (CJK characters take two columns)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - shown, 1)


def _banner(server: Any) -> str:
    site = server.site
    lines = [
        "",
        f"  事求人機關徵才系統（示範）  {server.url}/",
        f"  本機簽章元件 (HiPKI-compatible agent)  {server.agent_url}",
        f"  狀態目錄 state directory  {server.directory}",
        "",
        "  測試卡片 test cards (SoftHSM2)：",
        f"  {_pad('卡號 card', 18)}{_pad('PIN', 10)}{_pad('持卡人/機關 holder', 22)}示範情境 shows",
    ]
    for card in site.state.cards:
        lines.append(f"  {_pad(card.card_serial, 18)}{_pad(card.pin, 10)}{_pad(card.holder, 22)}{card.shows}")
    lines += ["", "  Ctrl-C 結束 (stop)", ""]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    framework: Framework = "django" if args.django else "flask"
    missing = _missing(framework)
    if missing:
        print("twcert demo: missing " + ", ".join(missing), file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from ..card.errors import AgentStartError, SoftHsmError
    from .server import DemoServer, PortInUseError

    board_date = None
    if args.today:
        from twcert_vacancy.errors import VacancyError
        from twcert_vacancy.rocdate import parse_roc_or_iso

        try:
            board_date = parse_roc_or_iso(args.today)
        except VacancyError:
            print(f"twcert demo: --today {args.today!r} is not a date (e.g. 115/12/20)", file=sys.stderr)
            return EXIT_USAGE
    server = DemoServer(
        Path(args.dir), port=args.port, agent_port=args.agent_port, framework=framework, board_date=board_date
    )
    print("twcert demo: building the test PKI, cards and databases …", file=sys.stderr)
    try:
        server.start()
    except PortInUseError as exc:
        print(f"twcert demo: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (AgentStartError, SoftHsmError) as exc:
        print(f"twcert demo: {exc.message} ({exc.detail})", file=sys.stderr)
        return EXIT_FAILURE
    except FileExistsError as exc:
        print(f"twcert demo: {exc}; choose another --dir", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"twcert demo: cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(_banner(server), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    print("twcert demo: stopped", file=sys.stderr)
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``demo`` to the ``twcert`` console script."""
    demo = subparsers.add_parser(
        "demo", help="serve the manual's demo site on loopback (test cards, local signing agent)"
    )
    demo.add_argument("--port", type=int, default=5000, help="web port on 127.0.0.1 (default 5000; 0: any)")
    demo.add_argument(
        "--agent-port",
        type=int,
        default=61161,
        help="local signing agent port (default 61161, HiPKI's; 0: any)",
    )
    demo.add_argument(
        "--dir", default=str(default_directory()), help="state directory, rebuilt at every start"
    )
    # Always offered: without Django, --django says which extra to install.
    demo.add_argument(
        "--django", action="store_true", help="serve the same demo with Django (twcert[django])"
    )
    demo.add_argument(
        "--today",
        metavar="DATE",
        help="the vacancy board's date (ROC 115/12/20 or ISO), to see vacancies enter and leave it",
    )
    demo.set_defaults(handler=_run)
