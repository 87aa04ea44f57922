"""The twcert store protocols over Django's ORM (the ``"django"`` store of ``TWCERT``).

Atomic across worker processes, with no read-then-write in Python:

* a challenge is consumed by ``UPDATE … SET used_at = now WHERE challenge_id = … AND used_at IS
  NULL`` (``filter().update()``); the row count says who won, so exactly one of N racing workers
  gets the challenge;
* a PIN failure is ``UPDATE … SET failures = failures + 1`` (``F()``), or an INSERT when the card
  has no row yet; an INSERT that loses to another worker's (``IntegrityError`` on the unique card)
  falls back to the UPDATE, so no failure is lost;
* a binding is an INSERT on the unique identity, and on ``IntegrityError`` a read of the stored
  one (``get_or_create``, write first), so two workers binding one identity at once end with one
  binding and both return it.

Database errors surface as the catalogued :class:`~twcert.errors.BackendUnavailableError`.
Times are stored aware when ``USE_TZ`` is on and as naive UTC otherwise.

SQLite: several processes writing one file need a busy timeout (``"OPTIONS": {"timeout": 30}``).
Every transaction here starts with a write, so writers queue on the lock instead of failing with
"database is locked" (which a read-then-write transaction gets when another worker writes).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.conf import settings  # type: ignore[import-untyped, unused-ignore]
from django.db import DatabaseError, IntegrityError, router, transaction  # type: ignore[import-untyped, unused-ignore]
from django.db.models import F, Q  # type: ignore[import-untyped, unused-ignore]

from ...agency.directory import Agency, normalize_agency_name
from ...binding import Binding
from ...challenge import Challenge, ConsumeResult
from ...errors import BackendUnavailableError
from ...idnumber import normalize
from ...personnel import Person
from . import models

__all__ = [
    "DjangoAgencyDirectory",
    "DjangoBindingStore",
    "DjangoNonceStore",
    "DjangoPersonnelDirectory",
    "DjangoPinCounterStore",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_AGENCY_TEXT = (
    "english_name", "postal_code", "address", "phone", "parent_code", "parent_name", "fax",
    "effective_date", "abolished_date", "level", "abolished_flag", "successor_code", "successor_name",
)  # fmt: skip


def _guard(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Database failures become the catalogued BackendUnavailableError (no SQL shown to users)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except DatabaseError as exc:
            raise BackendUnavailableError(f"database: {type(exc).__name__}: {str(exc)[:200]}") from exc

    return wrapper


def _to_db(value: dt.datetime) -> dt.datetime:
    if settings.USE_TZ:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _from_db(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _OrmStore:
    """:param using: database alias; ``None`` asks the database routers (for writes)."""

    model: Any

    def __init__(self, using: str | None = None) -> None:
        self.using = using

    def _db(self) -> str:
        # Reads go to the write database too: a replica may lag behind a nonce just issued.
        return self.using or str(router.db_for_write(self.model))

    def _objects(self, db: str) -> Any:
        return self.model._default_manager.using(db)


class DjangoNonceStore(_OrmStore):
    """:class:`~twcert.challenge.NonceStore` over :class:`~twcert.contrib.django.models.Challenge`."""

    model = models.Challenge

    @_guard
    def put(self, challenge: Challenge) -> None:
        self._objects(self._db()).create(
            challenge_id=challenge.id,
            nonce=challenge.nonce,
            session_hash=challenge.session_hash,
            origin=challenge.origin,
            issued_at=_to_db(challenge.issued_at),
            expires_at=_to_db(challenge.expires_at),
        )

    @_guard
    def consume(self, challenge_id: str, now: dt.datetime) -> ConsumeResult:
        db = self._db()
        with transaction.atomic(using=db):
            won = (
                self._objects(db)
                .filter(challenge_id=challenge_id, used_at__isnull=True)
                .update(used_at=_to_db(now))
            )
            row = self._objects(db).filter(challenge_id=challenge_id).first()
        if row is None:
            return ConsumeResult(None, "unknown")
        challenge = Challenge(
            id=row.challenge_id,
            nonce=bytes(row.nonce),
            session_hash=row.session_hash,
            origin=row.origin,
            issued_at=_from_db(row.issued_at),
            expires_at=_from_db(row.expires_at),
        )
        return ConsumeResult(challenge, "ok" if won == 1 else "used")

    @_guard
    def purge(self, now: dt.datetime) -> int:
        deleted, _ = self._objects(self._db()).filter(expires_at__lt=_to_db(now)).delete()
        return int(deleted)


class DjangoPinCounterStore(_OrmStore):
    """:class:`~twcert.pin.PinCounterStore` over :class:`~twcert.contrib.django.models.PinFailure`."""

    model = models.PinFailure

    @_guard
    def get(self, key: str) -> int:
        value = self._objects(self._db()).filter(card=key).values_list("failures", flat=True).first()
        return int(value or 0)

    @_guard
    def increment(self, key: str) -> int:
        db = self._db()
        now = _to_db(_now())
        objects = self._objects(db)
        with transaction.atomic(using=db):
            if not objects.filter(card=key).update(failures=F("failures") + 1, updated_at=now):
                try:
                    with transaction.atomic(using=db):
                        objects.create(card=key, failures=1, updated_at=now)
                    return 1
                except IntegrityError:
                    # Another worker inserted the card's first failure meanwhile: count ours on top.
                    objects.filter(card=key).update(failures=F("failures") + 1, updated_at=now)
            # Our UPDATE holds the row lock until commit, so this reads our own count.
            return int(objects.filter(card=key).values_list("failures", flat=True).get())

    @_guard
    def set(self, key: str, count: int) -> None:
        db = self._db()
        now = _to_db(_now())
        objects = self._objects(db)
        with transaction.atomic(using=db):
            if objects.filter(card=key).update(failures=count, updated_at=now):
                return
            try:
                with transaction.atomic(using=db):
                    objects.create(card=key, failures=count, updated_at=now)
            except IntegrityError:
                objects.filter(card=key).update(failures=count, updated_at=now)

    @_guard
    def raise_to(self, key: str, count: int) -> int:
        db = self._db()
        now = _to_db(_now())
        objects = self._objects(db)
        with transaction.atomic(using=db):
            objects.filter(card=key, failures__lt=count).update(failures=count, updated_at=now)
            current = objects.filter(card=key).values_list("failures", flat=True).first()
            if current is not None:
                return int(current)
            try:
                with transaction.atomic(using=db):
                    objects.create(card=key, failures=count, updated_at=now)
                return count
            except IntegrityError:
                objects.filter(card=key, failures__lt=count).update(failures=count, updated_at=now)
                return int(objects.filter(card=key).values_list("failures", flat=True).get())

    @_guard
    def reset(self, key: str) -> None:
        self._objects(self._db()).filter(card=key).delete()


class DjangoBindingStore(_OrmStore):
    """:class:`~twcert.binding.BindingStore` over :class:`~twcert.contrib.django.models.Binding`."""

    model = models.Binding

    @staticmethod
    def _binding(row: Any) -> Binding:
        return Binding(row.identity, row.account, _from_db(row.bound_at), row.certificate_sha256)

    @_guard
    def get(self, identity: str) -> Binding | None:
        row = self._objects(self._db()).filter(identity=identity).first()
        return None if row is None else self._binding(row)

    @_guard
    def bind(self, binding: Binding) -> Binding:
        db = self._db()
        objects = self._objects(db)
        # get_or_create with the INSERT first: the unique identity decides the race, and the
        # transaction starts with a write. (A SELECT first would take SQLite's shared lock and
        # then fail with "database is locked" on upgrading it while another worker writes.)
        try:
            with transaction.atomic(using=db):
                row = objects.create(
                    identity=binding.identity,
                    account=binding.account,
                    bound_at=_to_db(binding.bound_at),
                    certificate_sha256=binding.certificate_sha256,
                )
        except IntegrityError:
            # Already bound (or another worker won): the stored binding stands.
            row = objects.get(identity=binding.identity)
        return self._binding(row)

    @_guard
    def unbind(self, identity: str) -> bool:
        deleted, _ = self._objects(self._db()).filter(identity=identity).delete()
        return bool(deleted)

    @_guard
    def for_account(self, account: str) -> list[Binding]:
        rows = self._objects(self._db()).filter(account=account).order_by("bound_at", "identity")
        return [self._binding(row) for row in rows]


def unbind_queryset(queryset: Any, *, actor: str) -> int:
    """Remove the bindings of a :class:`~twcert.contrib.django.models.Binding` queryset (the
    admin's "unbind" action), audited as ``twcert.unbind``; return how many were removed."""
    from ...binding import unbind

    store = DjangoBindingStore(using=queryset.db)
    return len(unbind(store, [DjangoBindingStore._binding(row) for row in queryset], actor=actor))


class DjangoPersonnelDirectory(_OrmStore):
    """:class:`~twcert.personnel.PersonnelDirectory` over :class:`~twcert.contrib.django.models.Person`."""

    model = models.Person

    @staticmethod
    def _person(row: Any) -> Person:
        return Person(row.account, row.national_id, row.name, bool(row.in_service), row.agency_code or None)

    @_guard
    def get(self, account: str) -> Person | None:
        row = self._objects(self._db()).filter(account=account).first()
        return None if row is None else self._person(row)

    @_guard
    def find(self, account_or_id: str) -> Person | None:
        text = account_or_id.strip()
        if not text:
            return None
        rows = list(self._objects(self._db()).filter(Q(account=text) | Q(national_id=normalize(text))))
        # An account match wins over an ID match (an account could look like an ID).
        rows.sort(key=lambda r: r.account != text)
        return self._person(rows[0]) if rows else None


class DjangoAgencyDirectory(_OrmStore):
    """:class:`~twcert.agency.AgencyDirectory` over :class:`~twcert.contrib.django.models.Agency`."""

    model = models.Agency

    @staticmethod
    def _agency(row: Any) -> Agency:
        return Agency(row.code, row.name, *(getattr(row, name) for name in _AGENCY_TEXT))

    @_guard
    def get(self, code: str) -> Agency | None:
        row = self._objects(self._db()).filter(code=code.strip().upper()).first()
        return None if row is None else self._agency(row)

    @_guard
    def find_by_name(self, name: str) -> list[Agency]:
        rows = self._objects(self._db()).filter(name_key=normalize_agency_name(name)).order_by("code")
        return [self._agency(row) for row in rows]

    @_guard
    def replace_all(self, agencies: list[Agency]) -> int:
        """Replace the whole table with ``agencies`` in one transaction (a new orglist.csv)."""
        db = self._db()
        objects = self._objects(db)
        rows = [
            self.model(
                code=agency.code,
                name=agency.name,
                name_key=normalize_agency_name(agency.name),
                **{name: getattr(agency, name) for name in _AGENCY_TEXT},
            )
            for agency in agencies
        ]
        with transaction.atomic(using=db):
            objects.all().delete()
            objects.bulk_create(rows, batch_size=1000)
        return len(rows)
