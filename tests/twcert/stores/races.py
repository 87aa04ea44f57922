"""Races between real processes, for the stores' tests."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

__all__ = ["race"]


def race(target: Callable[..., None], args: tuple[Any, ...], n: int = 8) -> list[Any]:
    """Run ``target(*args, barrier, results)`` in *n* spawned processes released together; their results."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n, timeout=60)
    results = ctx.Queue()
    # daemon: a worker that fails must not keep the test run waiting at exit.
    workers = [ctx.Process(target=target, args=(*args, barrier, results), daemon=True) for _ in range(n)]
    for w in workers:
        w.start()
    try:
        out = [results.get(timeout=90) for _ in workers]
    finally:
        for w in workers:
            w.join(10)
            if w.is_alive():
                w.kill()
    assert all(w.exitcode == 0 for w in workers)
    return out
