"""The ``twcert`` console script.

Subcommands live next to the code they drive and register themselves here; a subcommand
whose optional dependencies are missing prints which extra to install instead of a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .certificate import IssuerInfo, TaiwanCertificate, load_certificates
from .errors import TwcertError
from .trust import TrustStore

__all__ = ["main"]

# module path, extra that provides its dependencies, the commands it registers
_PLUGINS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("twcert.validation_cli", "", ()),
    ("twcert.card.cli", "pkcs11,pcsc", ("card", "agent")),
    ("twcert_vacancy.cli", "vacancy", ("vacancy",)),
    ("twcert.demo.cli", "flask,django", ("demo",)),
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _parse_at(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _state(cert: TaiwanCertificate, at: dt.datetime) -> str:
    if at < cert.not_before:
        return "not yet valid"
    if at > cert.not_after:
        return "expired"
    return "valid"


def _record(path: str, cert: TaiwanCertificate, at: dt.datetime) -> dict[str, Any]:
    masked = cert.masked()
    return {
        "file": path,
        "family": cert.family.value,
        "generation": cert.generation,
        "holder_kind": cert.holder_kind.value,
        "holder_name": masked["holder_name"],
        "subject_serial": masked["subject_serial"],
        "id_tail": masked["id_tail"],
        "agency_oid": cert.agency_oid,
        "usage": cert.usage.value,
        "is_ca": cert.is_ca,
        "is_test": cert.is_test,
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "state": _state(cert, at),
        "serial_number": f"{cert.serial_number:x}",
        "sha256": cert.sha256,
        "policies": list(cert.policies),
        "crl_urls": list(cert.crl_urls),
        "ocsp_urls": list(cert.ocsp_urls),
        "ca_issuers_urls": list(cert.ca_issuers_urls),
    }


_COLUMNS = (
    ("FILE", "file"),
    ("FAMILY", "family"),
    ("GEN", "generation"),
    ("KIND", "holder_kind"),
    ("HOLDER", "holder_name"),
    ("ID TAIL", "id_tail"),
    ("USAGE", "usage"),
    ("TEST", "is_test"),
    ("NOT BEFORE", "not_before"),
    ("NOT AFTER", "not_after"),
    ("STATE", "state"),
)


def _cell(record: dict[str, Any], key: str) -> str:
    value = record[key]
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in ("not_before", "not_after"):
        return str(value)[:10]
    return str(value)


def _print_table(records: list[dict[str, Any]], verbose: bool) -> None:
    rows = [[h for h, _ in _COLUMNS]] + [[_cell(r, k) for _, k in _COLUMNS] for r in records]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for n, row in enumerate(rows):
        print("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip())
        if verbose and n:
            record = records[n - 1]
            for key in ("subject_serial", "agency_oid", "serial_number", "sha256"):
                if record[key]:
                    print(f"    {key}: {record[key]}")
            for key in ("policies", "crl_urls", "ocsp_urls", "ca_issuers_urls"):
                for value in record[key]:
                    print(f"    {key[:-1]}: {value}")


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _issuer_registry(args: argparse.Namespace) -> dict[bytes, IssuerInfo]:
    store = TrustStore.default()
    if args.ca:
        store = store.with_pem_files(args.ca)
    registry = dict(store.issuers)
    if args.pki:
        from .testing.pki import FakeGPKI

        registry.update(FakeGPKI.load(args.pki).trust_store().issuers)
    return registry


def _cmd_inspect(args: argparse.Namespace) -> int:
    at: dt.datetime = args.at or dt.datetime.now(dt.UTC)
    try:
        registry = _issuer_registry(args)
    except TwcertError as exc:
        print(f"twcert: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    paths: list[str] = list(args.files)
    if args.bundled:
        from importlib import resources

        from .trust import BUNDLED_PINS

        anchors = resources.files("twcert") / "anchors"
        paths = [str(anchors / name) for name in BUNDLED_PINS] + paths
    if not paths:
        print("twcert inspect: give certificate files or --bundled", file=sys.stderr)
        return EXIT_BAD_INPUT
    records: list[dict[str, Any]] = []
    failed = 0
    for path in paths:
        try:
            data = Path(path).read_bytes()
            certs = load_certificates(data, issuers=registry)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        except TwcertError as exc:
            print(f"{path}: {exc.code}: {exc.detail or exc.message_english}", file=sys.stderr)
            failed += 1
            continue
        shown = Path(path).name if args.bundled and not args.json else path
        records.extend(_record(shown, cert, at) for cert in certs)
    if args.json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        print()
    elif records:
        _print_table(records, args.verbose)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    parser = argparse.ArgumentParser(prog="twcert", description="Taiwan GPKI smart-card certificate tools.")
    parser.add_argument("--version", action="version", version=f"twcert {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    inspect = sub.add_parser(
        "inspect", help="show what certificates are (family, generation, holder, validity)"
    )
    inspect.add_argument("files", nargs="*", help="PEM, DER or base64 certificate files (bundles allowed)")
    inspect.add_argument("--bundled", action="store_true", help="also inspect the bundled GPKI anchors")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.add_argument("-v", "--verbose", action="store_true", help="show serials, policies and URLs")
    inspect.add_argument("--at", type=_parse_at, help="judge validity at this ISO time (default: now)")
    inspect.add_argument("--ca", action="append", default=[], help="extra CA certificate file (repeatable)")
    inspect.add_argument("--pki", help="a fixture PKI directory (labels its CA generations)")
    inspect.set_defaults(handler=_cmd_inspect)
    missing: list[str] = []
    for module_name, extra, commands in _PLUGINS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
                continue  # not part of this build
            missing.append(
                f"{module_name.rsplit('.', 1)[0]}: pip install 'twcert[{extra}]' ({exc.name} missing)"
            )
            for command in commands:
                _unavailable(sub, command, str(exc.name), extra)
            continue
        register: Callable[[Any], None] = module.register
        register(sub)
    return parser, missing


def _unavailable(sub: Any, command: str, module: str, extra: str) -> None:
    """``command`` whose dependencies are missing: it takes any arguments and names the extra
    (rather than argparse's "invalid choice", which reads as if the command did not exist)."""
    # A prefix character no argument starts with: every argument, options too, is taken as is.
    stub = sub.add_parser(command, help=f"(needs: pip install 'twcert[{extra}]')", prefix_chars="\0")
    stub.add_argument("arguments", nargs="*")

    def handler(_args: argparse.Namespace) -> int:
        print(
            f"twcert {command}: {module} is not installed; install it with: pip install 'twcert[{extra}]'",
            file=sys.stderr,
        )
        return EXIT_FAILURE

    stub.set_defaults(handler=handler)


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser, missing = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        for line in missing:
            print(f"note: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        result: int = args.handler(args)
    except TwcertError as exc:
        print(f"twcert: {exc.code}: {exc.message_english} {exc.detail}".rstrip(), file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `twcert inspect --json ... | head`
        sys.stderr.close()
        return EXIT_OK
    return result


if __name__ == "__main__":
    sys.exit(main())
