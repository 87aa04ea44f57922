"""Agency cards: the DGPA agency-code file and how a certificate maps to a code."""

from __future__ import annotations

from .directory import Agency as Agency
from .directory import AgencyDirectory as AgencyDirectory
from .directory import MemoryAgencyDirectory as MemoryAgencyDirectory
from .orglist import OrgListError as OrgListError
from .orglist import OrgListProblem as OrgListProblem
from .orglist import OrgListResult as OrgListResult
from .orglist import load_orglist as load_orglist
from .orglist import read_orglist as read_orglist
from .resolver import AgencyResolver as AgencyResolver

__all__ = [
    "Agency",
    "AgencyDirectory",
    "AgencyResolver",
    "MemoryAgencyDirectory",
    "OrgListError",
    "OrgListProblem",
    "OrgListResult",
    "load_orglist",
    "read_orglist",
]
