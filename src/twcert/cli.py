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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .certificate import IssuerInfo, TaiwanCertificate, load_certificates
from .errors import RevocationDataError, TwcertError
from .revocation import (
    CRLCache,
    CRLIndex,
    FetchError,
    HttpResponse,
    RevocationChecker,
    RevocationStatus,
)
from .revocation.ca_revocation import CARevocation
from .trust import TrustStore
from .validation import Validator

__all__ = ["main"]

# module path, extra that provides its dependencies, the commands it registers
_PLUGINS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("twcert.validation_cli", "", ()),
    ("twcert.revocation.sync_cli", "", ()),
    ("twcert.card.cli", "pkcs11,pcsc", ("card", "agent")),
    ("twcert_vacancy.cli", "vacancy", ("vacancy",)),
    ("twcert.demo.cli", "flask,django", ("demo",)),
    ("twcert.stores.cli", "sql", ("unbind",)),
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


#: What STATE says when only the dates were looked at: never "valid" (signature, chain, trust,
#: revocation, usage and policy were not checked; --validate checks them).
DATES_ONLY = "dates ok (not validated)"


def _dates(cert: TaiwanCertificate, at: dt.datetime) -> str:
    if at < cert.not_before:
        return "not yet valid"
    if at > cert.not_after:
        return "expired"
    return DATES_ONLY


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
        "state": _dates(cert, at),
        "validated": False,
        "error_code": None,
        "error": None,
        "revocation": None,
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


# The -v lines: one for each value, with the singular name of a list's items.
_DETAILS = (
    ("subject_serial", "subject_serial"),
    ("agency_oid", "agency_oid"),
    ("serial_number", "serial_number"),
    ("sha256", "sha256"),
    ("revocation", "revocation"),
    ("error", "error"),
)
_LIST_DETAILS = (
    ("policies", "policy"),
    ("crl_urls", "crl_url"),
    ("ocsp_urls", "ocsp_url"),
    ("ca_issuers_urls", "ca_issuers_url"),
)


def _print_table(records: list[dict[str, Any]], verbose: bool) -> None:
    rows = [[h for h, _ in _COLUMNS]] + [[_cell(r, k) for _, k in _COLUMNS] for r in records]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for n, row in enumerate(rows):
        print("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip())
        if verbose and n:
            record = records[n - 1]
            for key, label in _DETAILS:
                if record[key]:
                    print(f"    {label}: {record[key]}")
            for key, label in _LIST_DETAILS:
                for value in record[key]:
                    print(f"    {label}: {value}")


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


class _NoDownloads:
    """The fetcher of ``inspect --validate``: it never goes to the network (only --crl files count)."""

    def get(
        self, url: str, *, timeout: float, max_bytes: int, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        raise FetchError(
            f"not downloaded: twcert inspect reads revocation data from --crl files only ({url})"
        )

    def post(
        self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int
    ) -> HttpResponse:
        raise FetchError(f"not sent: twcert inspect asks no OCSP responder ({url})")


def _validator(
    trust: TrustStore, at: dt.datetime, checker: RevocationChecker, ca_crls: list[bytes]
) -> Validator:
    """The one place ``inspect`` builds its Validator: the defaults a login uses (HARD_FAIL, no
    test certificates), the clock of --at, and only the CRLs given."""
    return Validator(trust, clock=lambda: at, checker=checker, ca_revocation=CARevocation(ca_crls))


def _read_crl(path: str, trust: TrustStore) -> tuple[bytes, CRLIndex, TaiwanCertificate]:
    """A --crl file (DER or PEM), verified against the trusted CA that issued it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RevocationDataError(f"cannot read CRL file {path}: {exc.strerror or exc}") from exc
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            data = x509.load_pem_x509_crl(data).public_bytes(serialization.Encoding.DER)
        issuer_name = x509.load_der_x509_crl(data).issuer.public_bytes()
    except ValueError as exc:
        raise RevocationDataError(f"{path}: not a CRL (DER or PEM)") from exc
    # Only the CAs of that name are tried: each try verifies the whole CRL.
    for ca in (ca for ca in trust if ca.certificate.subject_der == issuer_name):
        try:
            return data, CRLIndex.from_der(data, issuer=ca.certificate), ca.certificate
        except RevocationDataError:
            continue  # another key of the same name (a CA generation), or a bad signature
    raise RevocationDataError(f"{path}: not a CRL signed by a trusted CA (bundled or --ca)")


def _validate(
    args: argparse.Namespace, found: list[tuple[dict[str, Any], TaiwanCertificate]], at: dt.datetime
) -> int:
    """Fill each record's state from the Validator; the number of certificates refused."""
    trust = TrustStore.default().with_pem_files(args.ca) if args.ca else TrustStore.default()
    crls = [_read_crl(path, trust) for path in args.crl]
    cache = CRLCache(fetcher=_NoDownloads())
    for _der, index, issuer in crls:
        # Stored under every distribution point the inspected certificates of its CA name, and
        # under the CRL's own scope: the checker looks CRLs up by a certificate's CDP URLs.
        for url in index.partition_urls:
            cache.put(url, index)
        for _, cert in found:
            # By key, not name: CA generations share a name (MOICA G2 and G3).
            if cert.issuer_der == issuer.subject_der and cert.authority_key_identifier in (
                None,
                issuer.subject_key_identifier,
            ):
                for url in cert.crl_urls:
                    cache.put(url, index)
    checker = RevocationChecker(crls=cache, fetch_on_demand=False)
    validator = _validator(trust, at, checker, [der for der, _, _ in crls])
    refused = 0
    for record, cert in found:
        if cert.is_ca:
            continue  # the Validator judges holder certificates: a CA keeps its dates-only state
        record["validated"] = True
        try:
            result = validator.validate(cert)
        except TwcertError as exc:
            refused += 1
            record.update(state=f"invalid ({exc.code})", error_code=exc.code, error=exc.message_english)
            continue
        record.update(state="valid", revocation=_revocation(result.revocation))
    return refused


def _revocation(status: RevocationStatus) -> str:
    """``good (CRL of 2026-05-31 09:00 UTC, next update 2026-06-07 09:00 UTC)``."""
    if status.this_update is None:
        return status.state.value
    shown = f"{status.source.upper()} of {status.this_update:%Y-%m-%d %H:%M} UTC"
    if status.next_update is not None:
        shown += f", next update {status.next_update:%Y-%m-%d %H:%M} UTC"
    return f"{status.state.value} ({shown})"


def _cmd_inspect(args: argparse.Namespace) -> int:
    at: dt.datetime = args.at or dt.datetime.now(dt.UTC)
    if args.crl and not args.validate:
        print("twcert inspect: --crl is used by --validate only; add --validate", file=sys.stderr)
        return EXIT_BAD_INPUT
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
    found: list[tuple[dict[str, Any], TaiwanCertificate]] = []
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
        found.extend((_record(shown, cert, at), cert) for cert in certs)
    refused = 0
    if args.validate:
        try:
            refused = _validate(args, found, at)
        except TwcertError as exc:
            print(f"twcert inspect: {exc.code}: {exc.detail or exc.message_english}", file=sys.stderr)
            return EXIT_BAD_INPUT
    records = [record for record, _ in found]
    if args.json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        print()
    elif records:
        _print_table(records, args.verbose)
    if failed:
        return EXIT_BAD_INPUT
    return EXIT_FAILURE if refused else EXIT_OK


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    parser = argparse.ArgumentParser(prog="twcert", description="Taiwan GPKI smart-card certificate tools.")
    parser.add_argument("--version", action="version", version=f"twcert {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    inspect = sub.add_parser(
        "inspect",
        help="show what certificates are (family, generation, holder, dates); --validate checks them",
        description="Without --validate only the dates are checked, and STATE says so. With it, each "
        "holder certificate goes through the login Validator (signature, chain to a trusted CA, "
        "revocation from the --crl files, usage, policy, test certificates) and STATE is 'valid' "
        "or the catalogued error code; the exit status is then 1 if any was refused. Nothing is "
        "downloaded: revocation data comes from --crl files only.",
    )
    inspect.add_argument("files", nargs="*", help="PEM, DER or base64 certificate files (bundles allowed)")
    inspect.add_argument("--bundled", action="store_true", help="also inspect the bundled GPKI anchors")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.add_argument("-v", "--verbose", action="store_true", help="show serials, policies and URLs")
    inspect.add_argument("--at", type=_parse_at, help="judge validity at this ISO time (default: now)")
    inspect.add_argument("--ca", action="append", default=[], help="extra CA certificate file (repeatable)")
    inspect.add_argument("--pki", help="a fixture PKI directory (labels its CA generations)")
    inspect.add_argument(
        "--validate",
        action="store_true",
        help="validate as a login would (trust: the bundled CAs plus --ca; revocation: --crl files)",
    )
    inspect.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="FILE",
        help="CRL or ARL file (DER or PEM) for --validate (repeatable)",
    )
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
