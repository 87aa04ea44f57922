"""First-use bindings: which certificate identity belongs to which account.

**Binding key.** A citizen certificate is bound by :func:`binding_key`: by default the issuing
family plus the certificate's subject ``serialNumber`` (16 digits on MOICA cards). That survives
re-issuing a certificate with the same subject serial (e.g. a renewal that keeps it); a new card
with a new subject serial needs the first-use step again; by default an account holds one
binding (:class:`~twcert.login.LoginPolicy` ``bindings_per_account``), so an administrator
unbinds the old card first (:func:`unbind_account`, ``twcert unbind``, the Django admin).
Public sources do not confirm what the subject serial identifies, so
``binding_key="certificate"`` (the SHA-256 of the certificate: every renewal re-binds) is
available for the strictest deployments. Either way the serving status is checked again at
every login.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from .audit import AuditEvent, AuditSink, LoggingAuditSink, mask_account
from .certificate import CAFamily, TaiwanCertificate

__all__ = [
    "Binding",
    "BindingKeyKind",
    "BindingStore",
    "MemoryBindingStore",
    "binding_key",
    "unbind",
    "unbind_account",
]

BindingKeyKind = Literal["subject_serial", "certificate"]


def binding_key(
    cert: TaiwanCertificate, kind: BindingKeyKind = "subject_serial", *, family: CAFamily | None = None
) -> str:
    """The identity a first-use binding is stored under (see the module docstring).

    :param family: the issuing CA's family as validation established it (saves decoding the
        issuer name when the issuing key is not one of the bundled ones).
    """
    if kind == "certificate" or not cert.subject_serial:
        return f"sha256:{cert.sha256}"
    return f"{(family or cert.family).value}:serial:{cert.subject_serial}"


@dataclass(frozen=True, slots=True)
class Binding:
    identity: str
    account: str
    bound_at: dt.datetime
    certificate_sha256: str


@runtime_checkable
class BindingStore(Protocol):
    def get(self, identity: str) -> Binding | None: ...

    def bind(self, binding: Binding) -> Binding:
        """Store ``binding`` unless the identity is already bound; return the stored one (so
        two workers binding the same identity at once end with one binding)."""
        ...

    def unbind(self, identity: str) -> bool: ...

    def for_account(self, account: str) -> list[Binding]:
        """The account's bindings, oldest first."""
        ...


def unbind_account(
    store: BindingStore,
    account: str,
    *,
    actor: str,
    audit: AuditSink | None = None,
    now: dt.datetime | None = None,
) -> list[Binding]:
    """Remove every binding of ``account`` (a re-bind: its next first use binds afresh), audited
    as ``twcert.unbind`` with the account masked. Returns what was removed."""
    return unbind(store, store.for_account(account), actor=actor, audit=audit, now=now, account=account)


def unbind(
    store: BindingStore,
    bindings: Iterable[Binding],
    *,
    actor: str,
    audit: AuditSink | None = None,
    now: dt.datetime | None = None,
    account: str | None = None,
) -> list[Binding]:
    """Remove these bindings and write one ``twcert.unbind`` audit event per account (a
    "failure" event, reason ``NOT_BOUND``, when ``account`` is given and had none)."""
    removed = [b for b in bindings if store.unbind(b.identity)]
    sink = audit or LoggingAuditSink()
    when = now or dt.datetime.now(dt.UTC)
    accounts = sorted({b.account for b in removed} or ({account} if account is not None else set()))
    for name in accounts:
        mine = [b for b in removed if b.account == name]
        sink.emit(
            AuditEvent(
                event="twcert.unbind",
                occurred_at=when,
                outcome="success" if mine else "failure",
                reason=None if mine else "NOT_BOUND",
                account=mask_account(name),
                certificate_sha256=",".join(b.certificate_sha256 for b in mine) or None,
                detail=f"by {mask_account(actor)}: {len(mine)} binding(s) removed",
            )
        )
    return removed


class MemoryBindingStore:
    def __init__(self) -> None:
        self._bindings: dict[str, Binding] = {}
        self._lock = threading.Lock()

    def get(self, identity: str) -> Binding | None:
        return self._bindings.get(identity)

    def bind(self, binding: Binding) -> Binding:
        with self._lock:
            return self._bindings.setdefault(binding.identity, binding)

    def unbind(self, identity: str) -> bool:
        with self._lock:
            return self._bindings.pop(identity, None) is not None

    def for_account(self, account: str) -> list[Binding]:
        with self._lock:
            found = [b for b in self._bindings.values() if b.account == account]
        return sorted(found, key=lambda b: (b.bound_at, b.identity))
