"""Race-test workers: each runs in a fresh (spawned) process with its own Django and connections."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Callable
from typing import Any

from tests.twcert.contrib.django.setup import configure

configure()

from django.db import connections  # noqa: E402

from twcert.binding import Binding  # noqa: E402
from twcert.contrib.django.stores import (  # noqa: E402
    DjangoBindingStore,
    DjangoNonceStore,
    DjangoPinCounterStore,
)

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def consume(alias: str, challenge_id: str, barrier: Any, results: Any) -> None:
    store = DjangoNonceStore(using=alias)
    barrier.wait()
    try:
        results.put(store.consume(challenge_id, NOW).state)
    finally:
        connections.close_all()


def fail_pin(alias: str, card: str, barrier: Any, results: Any) -> None:
    store = DjangoPinCounterStore(using=alias)
    barrier.wait()
    try:
        results.put([store.increment(card) for _ in range(5)])
    finally:
        connections.close_all()


def bind(alias: str, identity: str, barrier: Any, results: Any) -> None:
    store = DjangoBindingStore(using=alias)
    account = f"acct-{multiprocessing.current_process().pid}"
    barrier.wait()
    try:
        results.put(store.bind(Binding(identity, account, NOW, "c" * 64)).account)
    finally:
        connections.close_all()


def race(target: Callable[..., None], args: tuple[Any, ...], n: int = 8) -> list[Any]:
    """Run ``target`` in ``n`` processes released together by a barrier; their results."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n, timeout=120)
    results = ctx.Queue()
    # daemon: a worker that fails must not keep the test run waiting at exit.
    workers = [ctx.Process(target=target, args=(*args, barrier, results), daemon=True) for _ in range(n)]
    for worker in workers:
        worker.start()
    try:
        out = [results.get(timeout=180) for _ in workers]
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    assert all(worker.exitcode == 0 for worker in workers)
    return out
