"""Admin actions: unbinding (a re-bind) goes through the binding store and is audited; and the
Django stores speak the verbs the login flow needs (for_account, raise_to)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.test import RequestFactory

from twcert.binding import Binding
from twcert.contrib.django import models
from twcert.contrib.django.admin import BindingAdmin
from twcert.contrib.django.stores import DjangoBindingStore, DjangoPinCounterStore

from . import workers

NOW = workers.NOW


@pytest.fixture(params=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "default"
    else:
        yield request.getfixturevalue("pg_alias")


class _Admin:
    def get_username(self) -> str:
        return "admin.chen"


def test_the_unbind_action_removes_the_selected_bindings_and_audits_them(
    alias: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = DjangoBindingStore(using=alias)
    account = "A123456789"
    identity = f"MOICA:serial:{secrets.randbelow(10**16):016d}"
    store.bind(Binding(identity, account, NOW, "a" * 64))
    keep = store.bind(Binding(f"MOICA:serial:{secrets.randbelow(10**16):016d}", "other", NOW, "b" * 64))
    messages: list[str] = []
    model_admin = BindingAdmin(models.Binding, django_admin.site)
    model_admin.message_user = lambda request, text, *a, **k: messages.append(text)  # type: ignore[method-assign]
    request: Any = RequestFactory().post("/admin/")
    request.user = _Admin()
    queryset = models.Binding.objects.using(alias).filter(identity=identity)
    with caplog.at_level(logging.INFO, logger="twcert.audit"):
        model_admin.unbind_selected(request, queryset)
    assert store.get(identity) is None and store.get(keep.identity) == keep
    assert messages == ["已解除 1 筆憑證綁定。"]
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
