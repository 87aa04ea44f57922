"""The agency-code file: DGPA agency codes (機關代碼) and what each agency is."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Agency", "AgencyDirectory", "MemoryAgencyDirectory", "normalize_agency_name"]


def normalize_agency_name(name: str) -> str:
    """For name matching: 台 and 臺 are the same character in agency names; spaces ignored."""
    return "".join(name.split()).replace("台", "臺")


@dataclass(frozen=True, slots=True)
class Agency:
    """One row of the DGPA agency-code file (行政院所屬中央及地方機關代碼, orglist.csv)."""

    code: str
    name: str
    english_name: str = ""
    postal_code: str = ""
    address: str = ""
    phone: str = ""
    parent_code: str = ""
    parent_name: str = ""
    fax: str = ""
    #: Dates as written in the file (the format is not confirmed: 8-digit Gregorian and 7-digit
    #: ROC both appear in sources), plus the parsed value where one could be read.
    effective_date: str = ""
    abolished_date: str = ""
    level: str = ""
    #: 裁撤註記 = "是" (or an abolition date) marks an abolished agency.
    abolished_flag: str = ""
    successor_code: str = ""
    successor_name: str = ""

    @property
    def abolished(self) -> bool:
        return bool(self.abolished_date.strip()) or self.abolished_flag.strip() == "是"


@runtime_checkable
class AgencyDirectory(Protocol):
    def get(self, code: str) -> Agency | None: ...

    def find_by_name(self, name: str) -> list[Agency]:
        """Agencies with this name (台/臺 folded); several agencies can share a name."""
        ...


class MemoryAgencyDirectory:
    def __init__(self, agencies: Iterable[Agency] = ()) -> None:
        self._by_code: dict[str, Agency] = {}
        self._by_name: dict[str, list[Agency]] = {}
        self._lock = threading.Lock()
        for agency in agencies:
            self.add(agency)

    def add(self, agency: Agency) -> None:
        with self._lock:
            old = self._by_code.get(agency.code)
            if old is not None:
                self._by_name[normalize_agency_name(old.name)].remove(old)
            self._by_code[agency.code] = agency
            self._by_name.setdefault(normalize_agency_name(agency.name), []).append(agency)

    def upsert(self, agencies: Iterable[Agency]) -> int:
        """Add or replace agencies; the same verb as the SQL directory's. Returns how many."""
        count = 0
        for agency in agencies:
            self.add(agency)
            count += 1
        return count

    def get(self, code: str) -> Agency | None:
        return self._by_code.get(code.strip().upper())

    def find_by_name(self, name: str) -> list[Agency]:
        return list(self._by_name.get(normalize_agency_name(name), ()))

    def __len__(self) -> int:
        return len(self._by_code)
