"""CRL ingest and lookup at 10k, 100k and 1M entries, CRLIndex against the alternatives.

    python benchmarks/crl_index.py [--sizes 10000,100000,1000000 | --entries N] [--runs 5]
                                   [--workdir /tmp/twcert-crl-bench] [--write docs/benchmarks-crl.md]
                                   [--open-only]

The CRLs hold 16-byte random serials (like MOICA's 128-bit ones). A quarter of the entries
carry a reasonCode, and the revocation dates are spread over ten years. A fake MOICA G2 CA
signs them with RSA-2048/SHA-256. They are built once and cached in ``--workdir``. Every
(measure, size) pair runs in a fresh interpreter, one after another, on the same files:

* ``CRLIndex.from_der``: verify (issuer, signature) and index; lookups present and absent.
* ``CRLIndex.open``: map a file written by ``save`` (what a second worker process does), in
  both trust modes: with the deployment key (the HMAC over header, metadata and table, plus
  the CRL's SHA-256) and without one (the stored CRL's signature verified against the CA again
  and the table checked to be the one it yields). ``--open-only`` measures just ``from_der``
  and the two opens (the figures the open checks are judged by).
* ``load_der_x509_crl`` alone, and followed by ``is_signature_valid`` (no index).
* A Python ``set`` of the serials: ``load_der_x509_crl``, iterating the entries, the set.
  No signature check. Then ``serial in set`` lookups.
* ``openssl crl -inform DER -noout``: wall time of the process, start-up included.

Times are wall-clock medians of ``--runs`` runs in the child (3 at 1M), then in brackets the
fastest run and the least CPU time of any run. On a shared machine the CPU time is the steadier
figure.
Memory: each child reads its baseline RSS after its imports and after reading the DER, and
resets the kernel's peak mark (``/proc/self/clear_refs``). "peak" is ``VmHWM`` after the
first run minus that baseline. "kept" is the resident set
after the first run minus the baseline, while the result is still alive. The DER bytes are
excluded, since every method needs them. ``open`` reads no DER, so its figures include the
mapped file, pages that every process mapping the file shares. Lookup latency is the mean
over 20,000 serials in a Python ``for`` loop, loop overhead (tens of ns) included, 5 passes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
LOOKUPS = 20_000
BENCH_KEY = b"benchmark deployment key"


# --------------------------------------------------------------------------- fixtures


def prepare(workdir: Path, sizes: list[int], reason_share: float) -> None:
    """Build (once) the CA and the CRLs the children read."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from twcert.testing import FakeGPKI, KeyPool
    from twcert.testing.revocation import Revoked, build_crl, random_serials

    workdir.mkdir(parents=True, exist_ok=True)
    ca_path = workdir / "ca.pem"
    if ca_path.exists():
        from twcert.testing.pki import FakeCA

        cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        key = serialization.load_pem_private_key((workdir / "ca.key.pem").read_bytes(), None)
        ca = FakeCA(cert, key, label="MOICA2")  # type: ignore[arg-type]
    else:
        ca = FakeGPKI(keys=KeyPool(reuse=True)).cas["MOICA2"]
        ca_path.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
        (workdir / "ca.key.pem").write_bytes(ca.key_pem)
    reasons = [
        x509.ReasonFlags.key_compromise,
        x509.ReasonFlags.superseded,
        x509.ReasonFlags.cessation_of_operation,
        x509.ReasonFlags.certificate_hold,
        x509.ReasonFlags.affiliation_changed,
    ]
    for size in sizes:
        path = workdir / f"crl-{size}-{reason_share}.der"
        if path.exists():
            continue
        started = time.perf_counter()
        rng = random.Random(size)
        items = [
            Revoked(
                serial,
                NOW - dt.timedelta(seconds=rng.randrange(10 * 365 * 86400)),
                rng.choice(reasons) if rng.random() < reason_share else None,
            )
            for serial in random_serials(size, seed=size)
        ]
        der = build_crl(ca, items, this_update=NOW, next_update=NOW + dt.timedelta(days=1), crl_number=size)
        path.write_bytes(der)
        print(
            f"built {path.name}: {len(der) / 2**20:.1f} MiB in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )


# --------------------------------------------------------------------------- child measures


def _rss_now() -> float:
    with open("/proc/self/statm", encoding="utf-8") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM), so the peak is the measured call's own."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


def _rss_peak() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def _timed_runs(fn: Callable[[], object], runs: int) -> tuple[object, dict[str, float]]:
    """First run (memory measured around it, result kept), then runs-1 more; times in s."""
    base_now = _rss_now()
    _reset_peak()
    walls, cpus = [], []
    kept: object = None
    for run in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        if run == 0:
            kept = result
            memory = {"peak": _rss_peak() - base_now, "kept": _rss_now() - base_now}
        del result
    return kept, {"median": statistics.median(walls), "best": min(walls), "cpu": min(cpus), **memory}


def _per_lookup(lookup: Callable[[int], object], serials: list[int]) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        for serial in serials:
            lookup(serial)
        walls.append((time.perf_counter() - wall) / len(serials))
        cpus.append((time.process_time() - cpu) / len(serials))
    return {"median": statistics.median(walls), "best": min(walls), "cpu": min(cpus)}


def _serials(der: bytes) -> tuple[list[int], list[int]]:
    """20k listed serials (spread over the CRL) and 20k random unlisted ones."""
    from cryptography import x509

    crl = x509.load_der_x509_crl(der)
    step = max(1, len(crl) // LOOKUPS)
    present = [r.serial_number for r in crl][::step][:LOOKUPS]
    listed = set(present)
    rng = random.Random(99)
    absent = [s for s in (rng.getrandbits(127) | 1 << 126 for _ in range(LOOKUPS)) if s not in listed]
    return present, absent


def child(measure: str, der_path: str, ca_path: str, runs: int, index_path: str) -> dict[str, Any]:
    from cryptography import x509

    from twcert.revocation.crl_index import CRLIndex

    ca = x509.load_pem_x509_certificate(Path(ca_path).read_bytes())
    if measure in ("open", "open-verified"):
        if measure == "open":
            result, stats = _timed_runs(lambda: CRLIndex.open(index_path + ".keyed", key=BENCH_KEY), runs)
        else:
            result, stats = _timed_runs(lambda: CRLIndex.open(index_path, issuer=ca), runs)
        assert isinstance(result, CRLIndex)
        present, absent = _serials(Path(der_path).read_bytes())
        assert all(result.lookup(s) is not None for s in present[:100])
        return {
            **stats,
            "present": _per_lookup(result.lookup, present),
            "absent": _per_lookup(result.lookup, absent),
        }

    der = Path(der_path).read_bytes()
    if measure == "index":
        result, stats = _timed_runs(lambda: CRLIndex.from_der(der, issuer=ca), runs)
        assert isinstance(result, CRLIndex)
        present, absent = _serials(der)
        assert all(result.lookup(s) is not None for s in present)
        assert not any(result.lookup(s) for s in absent)
        result.save(index_path)  # for the "open-verified" child
        result.save(index_path + ".keyed", key=BENCH_KEY)  # for the "open" child
        return {
            **stats,
            "present": _per_lookup(result.lookup, present),
            "absent": _per_lookup(result.lookup, absent),
            "contains": _per_lookup(result.__contains__, absent),
        }
    if measure == "load":
        _, stats = _timed_runs(lambda: x509.load_der_x509_crl(der), runs)
        return stats
    if measure == "verify":

        def load_and_verify() -> object:
            crl = x509.load_der_x509_crl(der)
            assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
            return crl

        _, stats = _timed_runs(load_and_verify, runs)
        return stats
    if measure == "set":
        result, stats = _timed_runs(lambda: {r.serial_number for r in x509.load_der_x509_crl(der)}, runs)
        assert isinstance(result, set)
        present, absent = _serials(der)
        return {
            **stats,
            "present": _per_lookup(result.__contains__, present),
            "absent": _per_lookup(result.__contains__, absent),
        }
    raise SystemExit(f"unknown measure {measure}")


def openssl_runs(der_path: Path, runs: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-in", str(der_path)], check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {"median": statistics.median(walls), "best": min(walls), "cpu": min(cpus)}


# --------------------------------------------------------------------------- report


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"


def _cell(stats: dict[str, float]) -> str:
    return f"{_time(stats['median'])} ({_time(stats['best'])}; CPU {_time(stats['cpu'])})"


def _mem(stats: dict[str, float]) -> str:
    return f"{stats['peak']:.1f} / {stats['kept']:.1f}"


def machine() -> list[str]:
    import cryptography
    from cryptography.hazmat.backends.openssl import backend

    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as fh:
        mem_kib = int(fh.readline().split()[1])
    cli = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True).stdout.strip()
    return [
        f"{cpu}, {os.cpu_count()} vCPU, {mem_kib / 2**20:.0f} GiB RAM; Linux {platform.release()}",
        f"Python {platform.python_version()}; cryptography {cryptography.__version__} "
        f"({backend.openssl_version_text()}); CLI {cli}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--entries", type=int, help="one size (same as --sizes N)")
    parser.add_argument("--open-only", action="store_true", help="only from_der and the two opens")
    parser.add_argument("--runs", type=int, default=5, help="runs per measure (3 at 1M and above)")
    parser.add_argument("--reason-share", type=float, default=0.25)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/twcert-crl-bench"))
    parser.add_argument("--write", type=Path, help="also write the Markdown report here")
    parser.add_argument(
        "--child", nargs=5, metavar=("MEASURE", "DER", "CA", "RUNS", "INDEX"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        measure, der_path, ca_path, runs, index_path = args.child
        print(json.dumps(child(measure, der_path, ca_path, int(runs), index_path)))
        return

    if shutil.which("openssl") is None:
        raise SystemExit("the openssl command is needed for the comparison")
    sizes = [args.entries] if args.entries else [int(s) for s in args.sizes.split(",")]
    measures = ("index", "open", "open-verified")
    if not args.open_only:
        measures += ("load", "verify", "set")
    prepare(args.workdir, sizes, args.reason_share)
    load_before = os.getloadavg()
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        der_path = args.workdir / f"crl-{size}-{args.reason_share}.der"
        index_path = args.workdir / f"crl-{size}.crlidx"
        runs = args.runs if size < 1_000_000 else min(args.runs, 3)
        row: dict[str, Any] = {"bytes": der_path.stat().st_size}
        for measure in measures:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    measure,
                    str(der_path),
                    str(args.workdir / "ca.pem"),
                    str(runs),
                    str(index_path),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            row[measure] = json.loads(out)
        if not args.open_only:
            row["openssl"] = openssl_runs(der_path, runs)
        results[size] = row
        print(f"{size:>9,} entries done", file=sys.stderr)
    load_after = os.getloadavg()

    def n(size: int) -> str:
        return f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"

    if args.open_only:
        print(open_report(results, sizes, load_before, load_after))
        return

    header = "| | " + " | ".join(f"{n(s)} ({results[s]['bytes'] / 2**20:.1f} MiB DER)" for s in sizes) + " |"
    rule = "|---|" + "---|" * len(sizes)

    def line(label: str, fmt: Callable[[dict[str, Any]], str]) -> str:
        return f"| {label} | " + " | ".join(fmt(results[s]) for s in sizes) + " |"

    table = [
        header,
        rule,
        line("**`CRLIndex.from_der`** (verify + index)", lambda r: _cell(r["index"])),
        line("… added MiB, peak / kept", lambda r: _mem(r["index"])),
        line(
            "… `lookup`, present / absent",
            lambda r: f"{_cell(r['index']['present'])} / {_cell(r['index']['absent'])}",
        ),
        line("… `serial in index`, absent", lambda r: _cell(r["index"]["contains"])),
        line("**`CRLIndex.open`** with the deployment key (HMAC)", lambda r: _cell(r["open"])),
        line("… MiB incl. the shared mapping, peak / kept", lambda r: _mem(r["open"])),
        line(
            "… `lookup`, present / absent",
            lambda r: f"{_cell(r['open']['present'])} / {_cell(r['open']['absent'])}",
        ),
        line(
            "**`CRLIndex.open`** without a key (CRL re-verified, table checked)",
            lambda r: _cell(r["open-verified"]),
        ),
        line("`load_der_x509_crl`", lambda r: _cell(r["load"])),
        line("`load_der_x509_crl` + `is_signature_valid`", lambda r: _cell(r["verify"])),
        line("… added MiB, peak / kept", lambda r: _mem(r["verify"])),
        line("load + `set` of serials (no signature check)", lambda r: _cell(r["set"])),
        line("… added MiB, peak / kept", lambda r: _mem(r["set"])),
        line(
            "… `serial in set`, present / absent",
            lambda r: f"{_cell(r['set']['present'])} / {_cell(r['set']['absent'])}",
        ),
        line("`openssl crl -inform DER -noout` (process)", lambda r: _cell(r["openssl"])),
    ]
    command = " ".join(["python", "benchmarks/crl_index.py", *sys.argv[1:]])
    big = results[sizes[-1]]
    shared = load_before[0] > (os.cpu_count() or 1) or load_after[0] > (os.cpu_count() or 1)
    report = [
        "# CRL index benchmark",
        "",
        "Produced by `benchmarks/crl_index.py`; its docstring describes the method.",
        "",
        f"Command: `{command}` (from the repository root, in the project's virtualenv).",
        "",
        "Machine: " + "; ".join(machine()) + ".",
        f"Load average (1/5/15 min): {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} before the "
        f"run, {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} after it.",
        *(
            [
                "",
                "The machine was shared with other jobs during this run: its load average was above its "
                "CPU count. Wall-clock figures include time spent waiting for a CPU and vary from run to "
                "run. The CPU times are the steadier measure.",
            ]
            if shared
            else []
        ),
        "",
        "On this kind of shared VM, two runs of the same child can differ by up to 2×: the same "
        "10k lookup has measured 3.2 µs in one child and 6.0 µs in the next. Compare rows within "
        "one run, and a run against the targets only with that margin in mind.",
        "",
        f"CRLs: random 16-byte serials, {args.reason_share:.0%} of the entries with a reasonCode, "
        "signed with RSA-2048/SHA-256. A time cell is the wall-clock median (then the fastest run; "
        "the least CPU time). Memory is MiB added beyond the DER.",
        "",
        *table,
        "",
        f"## Against the targets, at {n(sizes[-1])} entries",
        "",
        f"- Ingest (`from_der`, signature included): {_cell(big['index'])}. Target: ≤ 1.5 s.",
        f"- Lookup, present: {_cell(big['index']['present'])}. Absent: {_cell(big['index']['absent'])}. "
        "After `open`, present: "
        f"{_cell(big['open']['present'])}. Absent: {_cell(big['open']['absent'])}. Target: ≤ 5 µs.",
        f"- Added memory: {big['index']['peak']:.1f} MiB at peak, {big['index']['kept']:.1f} MiB kept. "
        "Target: ≤ 64 MiB beyond the DER. A `set` of the serials keeps "
        f"{big['set']['kept']:.1f} MiB, and `is_signature_valid` peaks at {big['verify']['peak']:.1f} MiB.",
        "",
    ]
    text = "\n".join(report)
    print(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")


def open_report(
    results: dict[int, dict[str, Any]],
    sizes: list[int],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    """The ``--open-only`` table: from_der against the two trust modes of open."""
    command = " ".join(["python", "benchmarks/crl_index.py", *sys.argv[1:]])
    rows = [
        f"Command: `{command}`",
        f"Load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after.",
        "",
        "| entries | `from_der` (verify + index) | `open`, key (HMAC) | `open`, no key (re-verify) "
        "| lookup after keyed open, present / absent |",
        "|---|---|---|---|---|",
    ]
    for size in sizes:
        r = results[size]
        rows.append(
            f"| {size:,} | {_cell(r['index'])} | {_cell(r['open'])} | {_cell(r['open-verified'])} "
            f"| {_cell(r['open']['present'])} / {_cell(r['open']['absent'])} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
