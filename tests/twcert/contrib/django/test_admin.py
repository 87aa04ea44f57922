"""The admin's unbind action (a re-bind) goes through the binding store and is audited; and the
Django stores speak the verbs the login flow needs (for_account, raise_to).

The test settings do not install ``django.contrib.admin``, so the action's body,
:func:`~twcert.contrib.django.stores.unbind_queryset`, is tested directly."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import pytest

from twcert.binding import Binding
from twcert.contrib.django import models
from twcert.contrib.django.stores import DjangoBindingStore, DjangoPinCounterStore, unbind_queryset

from . import workers

NOW = workers.NOW


@pytest.fixture(params=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "default"
    else:
        yield request.getfixturevalue("pg_alias")


def test_the_unbind_action_removes_the_selected_bindings_and_audits_them(
    alias: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = DjangoBindingStore(using=alias)
    account = "A123456789"
    identity = f"MOICA:serial:{secrets.randbelow(10**16):016d}"
    store.bind(Binding(identity, account, NOW, "a" * 64))
    keep = store.bind(Binding(f"MOICA:serial:{secrets.randbelow(10**16):016d}", "other", NOW, "b" * 64))
    queryset = models.Binding.objects.using(alias).filter(identity=identity)
    with caplog.at_level(logging.INFO, logger="twcert.audit"):
        assert unbind_queryset(queryset, actor="admin.chen") == 1
    assert store.get(identity) is None and store.get(keep.identity) == keep
    (record,) = [r for r in caplog.records if r.name == "twcert.audit"]
    event = record.twcert_event  # type: ignore[attr-defined]
    assert event["event"] == "twcert.unbind" and event["outcome"] == "success"
    assert account not in record.getMessage() + repr(event)
    store.unbind(keep.identity)


def test_django_stores_list_an_accounts_bindings_and_only_raise_counts(alias: str) -> None:
    store = DjangoBindingStore(using=alias)
    account = f"acct-{secrets.token_hex(4)}"
    first = store.bind(Binding(f"MOICA:serial:{secrets.randbelow(10**16):016d}", account, NOW, "a" * 64))
    assert store.for_account(account) == [first]
    store.unbind(first.identity)
    counters = DjangoPinCounterStore(using=alias)
    card = f"TP{secrets.randbelow(10**14):014d}"
    assert counters.raise_to(card, 2) == 2
    assert counters.raise_to(card, 1) == 2 and counters.raise_to(card, 3) == 3
    counters.reset(card)
