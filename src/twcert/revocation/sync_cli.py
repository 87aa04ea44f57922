"""``twcert crl sync`` and ``twcert crl status``: the command line over :mod:`.sync`."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UnsafeDirectoryError
from ..progress import progress
from ..trust import TrustStore
from . import sync as crlsync

__all__ = ["register"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

#: Environment variable holding the deployment's index key when ``--key-file`` is not given.
KEY_ENV = "TWCERT_CRL_KEY"


def register(sub: Any) -> None:
    """Add ``crl`` with its ``sync`` and ``status`` subcommands to the ``twcert`` parser."""
    crl = sub.add_parser(
        "crl",
        help="fetch, refresh and check the CRLs and ARLs a deployment needs",
        description="Keep the shared CRL index directory current (sync) and report on it (status).",
    )
    commands = crl.add_subparsers(dest="crl_command", metavar="SUBCOMMAND", required=True)
    run = commands.add_parser(
        "sync",
        help="download, verify and store every CRL and ARL the trust store needs",
        description="ARLs come from the CRL distribution points of the trusted issuing CA "
        "certificates; CRLs are the --url ones plus every URL already in the directory. Each is "
        "verified against its CA before it replaces the stored one; a failed download keeps the "
        "old one. Exit status 1 if any failed.",
    )
    report = commands.add_parser(
        "status",
        help="list each CRL with its dates and entries; exit 1 if any is stale or missing",
        description="Reads the directory only (no download). Exit status 1 if any CRL the trust "
        "store needs is stale or missing, for monitoring.",
    )
    for command in (run, report):
        command.add_argument("--dir", required=True, type=Path, help="the shared CRL index directory")
        command.add_argument(
            "--url", action="append", default=[], help="a CRL to keep (MOICA, GCA complete CRL; repeatable)"
        )
        command.add_argument("--urls-file", type=Path, help="a file of CRL URLs, one per line (# comments)")
        command.add_argument(
            "--ca", action="append", default=[], type=Path, help="extra CA certificate file (GCA; repeatable)"
        )
        command.add_argument(
            "--ca-pin", action="append", default=None, help="required SHA-256 of each --ca certificate"
        )
        command.add_argument(
            "--no-bundled", action="store_true", help="trust only the --ca certificates, not the bundled ones"
        )
        command.add_argument(
            "--key-file",
            type=Path,
            help=f"the deployment's index key, the workers' CRLCache(key=...) (default: ${KEY_ENV} if set; "
            "without a key each stored CRL is verified against its CA in the trust store)",
        )
    run.add_argument("--timeout", type=float, default=30.0, help="socket timeout in seconds (default 30)")
    run.add_argument(
        "--deadline", type=float, default=300.0, help="most seconds one download may take (default 300)"
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress, print failures only")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    run.set_defaults(handler=_cmd_sync)
    report.set_defaults(handler=_cmd_status)


def _inputs(args: argparse.Namespace) -> tuple[TrustStore, list[str], bytes | None]:
    trust = TrustStore.empty() if args.no_bundled else TrustStore.default()
    if args.ca:
        trust = trust.with_pem_files(args.ca, pins=args.ca_pin)
    urls = list(args.url)
    if args.urls_file is not None:
        for line in args.urls_file.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                urls.append(line)
    return trust, urls, _key(args.key_file)


def _key(key_file: Path | None) -> bytes | None:
    """The key as the workers hold it: the file's bytes or ``$TWCERT_CRL_KEY`` encoded in
    UTF-8, surrounding whitespace removed (a trailing newline is no part of it)."""
    if key_file is not None:
        key = key_file.read_bytes().strip()
        source = str(key_file)
    elif os.environ.get(KEY_ENV) is not None:
        key = os.environ[KEY_ENV].strip().encode()
        source = f"${KEY_ENV}"
    else:
        return None
    if not key:
        # An empty HMAC key would authenticate files anyone can write: refuse, never fall back.
        raise ValueError(f"the index key in {source} is empty")
    return key


def _load(args: argparse.Namespace) -> tuple[TrustStore, list[str], bytes | None] | None:
    try:
        return _inputs(args)
    except (OSError, ValueError) as exc:
        print(f"twcert crl: {exc}", file=sys.stderr)
        return None


def _unsafe(exc: UnsafeDirectoryError) -> int:
    print(f"twcert crl: {exc.code}: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _cmd_sync(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    trust, urls, key = loaded

    @contextlib.contextmanager
    def bar(target: crlsync.CRLTarget, fetcher: crlsync.DeadlineFetcher) -> Iterator[None]:
        with progress(
            f"{target.kind.upper()} {_short(target.url)}", in_bytes=True, quiet=args.quiet
        ) as shown:
            fetcher.on_start = shown.total
            fetcher.on_bytes = shown.advance
            yield

    try:
        results = crlsync.sync(
            args.dir,
            trust,
            urls=urls,
            key=key,
            timeout=args.timeout,
            deadline=args.deadline,
            on_target=bar,
        )
    except UnsafeDirectoryError as exc:
        return _unsafe(exc)
    failed = [r for r in results if r.outcome == "failed"]
    if args.json:
        print(json.dumps([_result_json(r) for r in results], ensure_ascii=False, indent=2))
    else:
        for result in results:
            if result.outcome == "failed":
                print(f"FAILED {result.target.url}: {result.error}", file=sys.stderr)
            elif not args.quiet:
                print(
                    f"{result.outcome:9} {result.target.kind} {result.target.url}  "
                    f"{result.entries:,} entries, #{_number(result.crl_number)}, "
                    f"next update {_when(result.next_update)}, {result.downloaded:,} bytes downloaded"
                )
    return EXIT_FAILURE if failed else EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    trust, urls, key = loaded
    try:
        lines = crlsync.status(args.dir, trust, urls=urls, key=key)
    except UnsafeDirectoryError as exc:
        return _unsafe(exc)
    if args.json:
        print(json.dumps([line.to_json() for line in lines], ensure_ascii=False, indent=2))
    else:
        rows = [("STATE", "KIND", "ISSUER", "NUMBER", "THISUPDATE", "NEXTUPDATE", "AGE", "ENTRIES", "SOURCE")]
        for line in lines:
            rows.append(
                (
                    line.state,
                    line.kind,
                    line.issuer or "-",
                    _number(line.crl_number),
                    _when(line.this_update),
                    _when(line.next_update),
                    _age(line.age),
                    f"{line.entries:,}" if line.entries is not None else "-",
                    f"{line.url} ({line.origin})",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                + "  "
                + row[-1]
            )
        for line in lines:
            if line.state != "fresh":
                print(f"{line.state}: {line.url}: {line.detail}", file=sys.stderr)
    return EXIT_OK if lines and all(line.state == "fresh" for line in lines) else EXIT_FAILURE


def _result_json(result: crlsync.SyncResult) -> dict[str, object]:
    return {
        "url": result.target.url,
        "kind": result.target.kind,
        "origin": result.target.origin,
        "outcome": result.outcome,
        "downloaded": result.downloaded,
        "entries": result.entries,
        "crl_number": _number(result.crl_number) if result.crl_number is not None else None,
        "next_update": result.next_update.isoformat() if result.next_update else None,
        "error": result.error,
    }


def _short(url: str) -> str:
    return url if len(url) <= 48 else "…" + url[-47:]


def _number(value: int | None) -> str:
    return str(value) if value is not None else "-"


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ") if value is not None else "-"


def _age(value: dt.timedelta | None) -> str:
    if value is None:
        return "-"
    hours = value.total_seconds() / 3600
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"
