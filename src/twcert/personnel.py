"""Who may log in: the personnel directory of civil servants.

:class:`PersonnelDirectory` answers "who is this account (or national ID)?" with a
:class:`Person` — national ID, name, whether still serving (only serving civil servants may
log in; 卸職 refuses), and agency code. Backends: :class:`MemoryPersonnelDirectory` here,
:class:`twcert.stores.sql.SqlPersonnelDirectory` for a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from . import idnumber

__all__ = ["MemoryPersonnelDirectory", "Person", "PersonnelDirectory"]


@dataclass(frozen=True, slots=True)
class Person:
    """A civil servant in the personnel database."""

    account: str
    national_id: str
    name: str
    in_service: bool
    agency_code: str | None = None

    def __repr__(self) -> str:
        return (
            f"Person(account={self.account!r}, national_id={idnumber.mask(self.national_id)!r}, "
            f"name={idnumber.mask_name(self.name)!r}, in_service={self.in_service}, "
            f"agency_code={self.agency_code!r})"
        )


@runtime_checkable
class PersonnelDirectory(Protocol):
    def get(self, account: str) -> Person | None:
        """The person with this account."""
        ...

    def find(self, account_or_id: str) -> Person | None:
        """The person with this account, or else with this national ID / resident number."""
        ...


class MemoryPersonnelDirectory:
    """An in-memory directory (tests, demos, small deployments loading a file at start-up)."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self._by_account: dict[str, Person] = {}
        self._by_id: dict[str, Person] = {}
        for person in people:
            self.add(person)

    def add(self, person: Person) -> None:
        self._by_account[person.account] = person
        self._by_id[idnumber.normalize(person.national_id)] = person

    def upsert(self, people: Iterable[Person]) -> int:
        """Add or replace people; the same verb as the SQL directory's. Returns how many."""
        count = 0
        for person in people:
            self.add(person)
            count += 1
        return count

    def get(self, account: str) -> Person | None:
        return self._by_account.get(account)

    def find(self, account_or_id: str) -> Person | None:
        text = account_or_id.strip()
        return self._by_account.get(text) or self._by_id.get(idnumber.normalize(text))
