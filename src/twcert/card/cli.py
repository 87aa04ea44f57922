"""``twcert card …`` and ``twcert agent``: the card tools on a user's or developer's desktop.

* ``twcert card readers`` — PC/SC readers and cards (``--watch`` for insert/removal);
* ``twcert card status`` — tokens, certificates and PIN tries left (never sends a PIN);
* ``twcert card sign`` — sign data with the card (asks the PIN once; never retries);
* ``twcert card ledger-reset`` — record that a locked card was unblocked at MOICA/GCA
  (clears twcert's PIN ledger; it does not and cannot unblock the card);
* ``twcert card softhsm-init`` — SoftHSM2 test cards from the fixture PKI;
* ``twcert agent`` — the HiPKI-compatible local signing agent.

The hardware libraries are imported only when a command runs; if one is missing the command
says which extra to install and exits with status 2.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import importlib
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Final

from ..errors import FinalPinTryError
from .errors import CardExtraMissingError

__all__ = ["register"]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2

_EXTRAS: Final = {"twcert.card.pcsc": ("pyscard", "pcsc"), "twcert.card.pkcs11": ("python-pkcs11", "pkcs11")}


def _load(module_name: str) -> ModuleType:
    """Import a hardware module, or raise :class:`CardExtraMissingError` naming the extra."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise
        package, extra = _EXTRAS[module_name]
        raise CardExtraMissingError(f"{exc.name} is not importable", module=package, extra=extra) from None


def _command(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CardExtraMissingError as exc:
            print(f"twcert: {exc.message_english}", file=sys.stderr)
            return EXIT_USAGE

    return run


def _issuers(pki: str | None) -> Any:
    if not pki:
        return None
    from ..testing.pki import FakeGPKI

    return FakeGPKI.load(pki).trust_store().issuers


def _module(args: argparse.Namespace) -> Any:
    pkcs11 = _load("twcert.card.pkcs11")
    from .guard import PinGuard

    return pkcs11.Pkcs11Module(args.module, guard=PinGuard.from_file(args.ledger), issuers=_issuers(args.pki))


def _token(module: Any, args: argparse.Namespace) -> Any:
    return module.token(label=args.token, card_serial=args.card_serial)


# ------------------------------------------------------------------------------------ readers


def _cmd_readers(args: argparse.Namespace) -> int:
    pcsc = _load("twcert.card.pcsc")
    readers = pcsc.list_readers()
    if args.json:
        rows = [
            {"reader": r.name, "card_present": r.card_present, "atr": r.atr.hex() if r.atr else None}
            for r in readers
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not readers:
        print("no card reader found")
    for reader in readers if not args.json else ():
        atr = f"  ATR {reader.atr.hex(' ').upper()}" if reader.atr else ""
        print(f"{reader.name}: {'card present' if reader.card_present else 'no card'}{atr}")
    if args.watch:
        with pcsc.CardWatcher() as watcher:
            print(f"watching for {args.watch:g} s …", file=sys.stderr)
            for event in watcher.events(args.watch):
                print(f"{event.reader}: card {event.kind.value}", flush=True)
    return EXIT_OK


# ------------------------------------------------------------------------------------- status


def _token_record(token: Any) -> dict[str, Any]:
    info = token.info
    status = token.pin_status()
    certificates = []
    for cert in token.certificates():
        parsed = cert.certificate
        masked = parsed.masked()
        certificates.append(
            {
                "label": cert.label,
                "id": cert.key_id.hex(),
                "family": parsed.family.value,
                "usage": parsed.usage.value,
                "is_ca": parsed.is_ca,
                "holder_name": masked["holder_name"],
                "not_after": parsed.not_after.isoformat(),
                "sha256": parsed.sha256,
            }
        )
    return {
        "slot": info.slot_description,
        "label": info.label,
        "card_serial": info.card_serial,
        "model": info.model,
        "pin": {"tries_left": status.tries_left, "locked": status.locked, "source": status.source},
        "certificates": certificates,
    }


def _cmd_status(args: argparse.Namespace) -> int:
    module = _module(args)
    tokens = module.tokens() if args.token is None and args.card_serial is None else [_token(module, args)]
    records = [_token_record(token) for token in tokens]
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not records:
        print("no card present")
    for record in records:
        pin = record["pin"]
        tries = "locked" if pin["locked"] else f"{pin['tries_left']} tries left ({pin['source']})"
        card = f"card {record['card_serial']} ({record['label']}, {record['model']})"
        print(f"{record['slot']}: {card} — PIN: {tries}")
        for cert in record["certificates"]:
            holder = cert["holder_name"] or ""
            kind = f"{cert['label']:<14} {cert['usage']:<10} {cert['family']:<8}"
            print(f"  {kind} {holder}  until {cert['not_after'][:10]}")
    return EXIT_OK


# --------------------------------------------------------------------------------------- sign


def _read_pin(args: argparse.Namespace) -> str:
    if args.pin_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("PIN: ")


def _cmd_sign(args: argparse.Namespace) -> int:
    module = _module(args)
    token = _token(module, args)
    data = Path(args.input).read_bytes() if args.input else args.data.encode("utf-8")
    status = token.pin_status()
    confirm = args.confirm_final_try
    if status.final_try and not confirm and not args.pin_stdin and sys.stdin.isatty():
        # The explicit confirmation the final try needs, asked before the PIN is typed.
        print("Only ONE PIN try is left: a wrong PIN now locks the card.", file=sys.stderr)
        confirm = input("Type YES to try anyway: ").strip() == "YES"
        if not confirm:
            raise FinalPinTryError("not confirmed")
    elif status.tries_left is not None and not status.locked:
        print(f"PIN tries left: {status.tries_left}", file=sys.stderr)
    pin = _read_pin(args)
    with token.login(pin, confirm_final_try=confirm) as session:
        if args.type == "pkcs1":
            signature = session.sign_pkcs1(data, args.hash)
        else:
            signature = session.sign_cms(data, args.hash, with_card_serial=args.card_sn)
        certificate = session.certificate
        card_serial = session.card_serial
    if args.output:
        Path(args.output).write_bytes(signature)
    if args.json:
        print(
            json.dumps(
                {
                    "signature": base64.b64encode(signature).decode(),
                    "certb64": base64.b64encode(certificate.der).decode(),
                    "cardSN": card_serial,
                    "signatureType": args.type.upper(),
                }
            )
        )
    elif not args.output:
        print(base64.b64encode(signature).decode())
    return EXIT_OK


def _cmd_ledger_reset(args: argparse.Namespace) -> int:
    from .guard import PinGuard

    guard = PinGuard.from_file(args.ledger)
    guard.ledger.record_unblock(args.card_serial)
    left = guard.status(args.card_serial).tries_left
    print(f"PIN ledger cleared for card {args.card_serial}: tries left {left}")
    return EXIT_OK


def _cmd_softhsm(args: argparse.Namespace) -> int:
    from ..testing.fixtures import FixtureSet
    from .softhsm import SoftCard, provision

    fixtures = FixtureSet.load(args.fixtures)
    cards = []
    for spec in args.card or ["citizen-wang:123456"]:
        name, _, pin = spec.partition(":")
        if name not in fixtures.certificates:
            print(f"twcert: no fixture certificate named {name!r}", file=sys.stderr)
            return EXIT_USAGE
        cards.append(SoftCard.from_fixture(fixtures, name, pin=pin or "123456"))
    hsm = provision(args.directory, cards)
    for token in hsm.tokens:
        print(f"card {token.card_serial}: token label {token.label!r}, PIN {token.pin}", file=sys.stderr)
    # Shell lines to paste (or eval): the environment and module the agent needs.
    print(f"export SOFTHSM2_CONF={hsm.config}")
    print(f"export TWCERT_PKCS11_MODULE={hsm.module}")
    return EXIT_OK


# -------------------------------------------------------------------------------------- agent


def _cmd_agent(args: argparse.Namespace) -> int:
    _load("twcert.card.pkcs11")
    from .agent import AgentConfig, LocalAgent

    try:
        config = AgentConfig.with_origins(
            args.allow_origin, port=args.port, allow_sha1=args.allow_sha1, card_serial=args.card_serial
        )
    except ValueError as exc:
        print(f"twcert agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    agent = LocalAgent.from_module(args.module, ledger=args.ledger, config=config, issuers=_issuers(args.pki))

    def terminate(signum: int, frame: FrameType | None) -> None:
        agent.request_stop()

    previous = {number: signal.signal(number, terminate) for number in (signal.SIGTERM, signal.SIGINT)}

    def ready(running: LocalAgent) -> None:
        origins = ", ".join(config.origins.entries()) or "none (local programs only)"
        print(
            f"twcert agent listening on {running.url} (allowed origins: {origins})",
            file=sys.stderr,
            flush=True,
        )

    try:
        agent.serve_forever(ready)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return EXIT_OK


# ----------------------------------------------------------------------------------- register


def _pkcs11_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--module", help="PKCS#11 module path (default: $TWCERT_PKCS11_MODULE, else HiCOS)")
    parser.add_argument("--ledger", help="PIN ledger file (default: $XDG_STATE_HOME/twcert/pin-ledger.json)")
    parser.add_argument("--pki", help="a fixture PKI directory, to name its CAs' certificate families")


def register(subparsers: Any) -> None:
    """Add ``card`` and ``agent`` to the ``twcert`` console script."""
    card = subparsers.add_parser("card", help="card readers, card status and signing (PC/SC, PKCS#11)")
    commands = card.add_subparsers(dest="card_command", metavar="COMMAND", required=True)

    readers = commands.add_parser("readers", help="list PC/SC card readers and cards")
    readers.add_argument("--json", action="store_true", help="print JSON")
    readers.add_argument("--watch", type=float, metavar="SECONDS", help="then report insertions/removals")
    readers.set_defaults(handler=_command(_cmd_readers))

    status = commands.add_parser("status", help="tokens, certificates and PIN tries left (sends no PIN)")
    _pkcs11_options(status)
    status.add_argument("--token", help="only the token with this label")
    status.add_argument("--card-serial", help="only the card with this number")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_command(_cmd_status))

    sign = commands.add_parser("sign", help="sign data with the card (asks the PIN once)")
    _pkcs11_options(sign)
    sign.add_argument("--token", help="the token with this label (default: the first card)")
    sign.add_argument("--card-serial", help="the card with this number")
    source = sign.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="text to sign (UTF-8)")
    source.add_argument("--in", dest="input", help="file to sign")
    sign.add_argument(
        "--type", choices=("pkcs7", "pkcs1"), default="pkcs7", help="CMS SignedData or raw PKCS#1"
    )
    sign.add_argument("--hash", choices=("sha256", "sha384", "sha512"), default="sha256")
    sign.add_argument("--card-sn", action="store_true", help="add the card number as a signed attribute")
    sign.add_argument("--out", dest="output", help="write the DER signature here")
    sign.add_argument(
        "--json", action="store_true", help="print signature, certificate and card number as JSON"
    )
    sign.add_argument("--pin-stdin", action="store_true", help="read the PIN from the first line of stdin")
    sign.add_argument(
        "--confirm-final-try", action="store_true", help="allow the attempt when only one PIN try is left"
    )
    sign.set_defaults(handler=_command(_cmd_sign))

    reset = commands.add_parser(
        "ledger-reset",
        help="record that a locked card was unblocked at MOICA/GCA (clears the PIN ledger; no card access)",
    )
    reset.add_argument("--card-serial", required=True, help="the card number")
    reset.add_argument("--ledger", help="PIN ledger file")
    reset.set_defaults(handler=_command(_cmd_ledger_reset))

    softhsm = commands.add_parser(
        "softhsm-init", help="make SoftHSM2 test cards from the fixture PKI (for the agent without a card)"
    )
    softhsm.add_argument("directory", help="new directory for softhsm2.conf and the tokens")
    softhsm.add_argument(
        "--fixtures", default="fixtures/gpki", help="fixture PKI directory (default fixtures/gpki)"
    )
    softhsm.add_argument(
        "--card",
        action="append",
        metavar="NAME[:PIN]",
        help="fixture card and its PIN (repeatable; default citizen-wang:123456)",
    )
    softhsm.set_defaults(handler=_command(_cmd_softhsm))

    agent = subparsers.add_parser("agent", help="run the HiPKI-compatible local signing agent on 127.0.0.1")
    _pkcs11_options(agent)
    agent.add_argument(
        "--port", type=int, default=61161, help="TCP port on 127.0.0.1 (default 61161; 0 = any)"
    )
    agent.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a page origin allowed to use the agent, e.g. https://login.example.gov.tw (repeatable; "
        "https://*.example.gov.tw for subdomains)",
    )
    agent.add_argument("--allow-sha1", action="store_true", help="accept hashAlgorithm SHA1")
    agent.add_argument(
        "--card-serial", help="serve only this card, as if it were the only one inserted (several test cards)"
    )
    agent.set_defaults(handler=_command(_cmd_agent))
