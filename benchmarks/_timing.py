"""Shared timing helpers for the benchmark scripts (not a test: prints figures)."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable


def per_call(
    fn: Callable[[], object], *, runs: int = 7, target: float = 0.25, max_loops: int = 1_000_000
) -> float:
    """Median seconds per call over ``runs`` runs of a loop calibrated to ~``target`` seconds."""
    fn()  # warm up
    loops = 1
    while loops < max_loops:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - start >= target / 4:
            break
        loops *= 4
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e9:.0f} ns"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import cryptography

    return (
        f"{cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"cryptography {cryptography.__version__}; {sys.platform}"
    )


def rss_mib() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm", encoding="utf-8") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
