"""The logged-in principal as the session remembers it (:meth:`twcert.Principal.as_dict`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["SessionPrincipal"]


@dataclass(frozen=True, slots=True)
class SessionPrincipal:
    """Who is logged in, read back from the session.

    It has ``principal_id`` and ``agency_code``, so it can act on vacancies
    (:class:`twcert_vacancy.VacancyActor`) like the :class:`~twcert.Principal` it came from.
    """

    kind: Literal["citizen", "agency"]
    principal_id: str
    account: str | None
    agency_code: str | None
    agency_name: str | None
    certificate_sha256: str
    family: str
    authenticated_at: dt.datetime

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionPrincipal | None:
        """``None`` for anything that is not a stored principal (old or foreign session data)."""
        try:
            kind = data["kind"]
            if kind not in ("citizen", "agency"):
                return None
            return cls(
                kind=kind,
                principal_id=str(data["principal_id"]),
                account=data.get("account"),
                agency_code=data.get("agency_code"),
                agency_name=data.get("agency_name"),
                certificate_sha256=str(data["certificate_sha256"]),
                family=str(data["family"]),
                authenticated_at=dt.datetime.fromisoformat(str(data["authenticated_at"])),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def is_agency(self) -> bool:
        return self.kind == "agency"
