"""twcert_vacancy — the government job-vacancy board (事求人機關徵才系統) domain model.

Vacancies and their value types (:mod:`.model`, :mod:`.regions`, :mod:`.rocdate`), the
registration rules and the 行政程序法 §48 window (:mod:`.rules`, :mod:`.holidays`), repositories
(memory and SQL), the DGPA open-data feed (:mod:`.feed`) and JSON-LD / Atom publishing.

Everything but the SQL repository works without SQLAlchemy: :class:`SqlVacancyRepository` is
imported on first use, and raises :class:`~twcert_vacancy.errors.VacancyExtraMissingError` (an
``ImportError``) naming the extra to install when SQLAlchemy is missing.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from . import errors as errors
from .feed import DgpaFeedReader as DgpaFeedReader
from .feed import FeedProblem as FeedProblem
from .feed import FeedSnapshot as FeedSnapshot
from .feed import read_dgpa_xml as read_dgpa_xml
from .feed import write_dgpa_xml as write_dgpa_xml
from .feedimport import FeedImport as FeedImport
from .feedimport import import_feed as import_feed
from .holidays import HolidayCalendar as HolidayCalendar
from .model import TAIPEI as TAIPEI
from .model import Actor as Actor
from .model import AuditRecord as AuditRecord
from .model import Gender as Gender
from .model import Headcount as Headcount
from .model import PersonKind as PersonKind
from .model import RankClass as RankClass
from .model import Vacancy as Vacancy
from .model import VacancyActor as VacancyActor
from .model import VacancyStatus as VacancyStatus
from .model import ValidityPeriod as ValidityPeriod
from .model import taipei_date as taipei_date
from .publish import atom_feed as atom_feed
from .publish import job_posting as job_posting
from .publish import job_postings_jsonld as job_postings_jsonld
from .regions import WORK_PLACES as WORK_PLACES
from .regions import WorkPlace as WorkPlace
from .regions import parse_work_places as parse_work_places
from .regions import work_place as work_place
from .registration import register_vacancy as register_vacancy
from .repository import ImportReport as ImportReport
from .repository import MemoryVacancyRepository as MemoryVacancyRepository
from .repository import OnlineQuery as OnlineQuery
from .repository import Page as Page
from .repository import VacancyRepository as VacancyRepository
from .rocdate import RocDate as RocDate
from .rules import Checked as Checked
from .rules import PastStart as PastStart
from .rules import PeriodPolicy as PeriodPolicy
from .rules import VacancyRules as VacancyRules
from .rules import earliest_end as earliest_end

if _typing.TYPE_CHECKING:
    from .sqlstore import SqlVacancyRepository as SqlVacancyRepository

__all__ = [
    "TAIPEI",
    "WORK_PLACES",
    "Actor",
    "AuditRecord",
    "Checked",
    "DgpaFeedReader",
    "FeedImport",
    "FeedProblem",
    "FeedSnapshot",
    "Gender",
    "Headcount",
    "HolidayCalendar",
    "ImportReport",
    "MemoryVacancyRepository",
    "OnlineQuery",
    "Page",
    "PastStart",
    "PeriodPolicy",
    "PersonKind",
    "RankClass",
    "RocDate",
    "SqlVacancyRepository",
    "Vacancy",
    "VacancyActor",
    "VacancyRepository",
    "VacancyRules",
    "VacancyStatus",
    "ValidityPeriod",
    "WorkPlace",
    "atom_feed",
    "earliest_end",
    "errors",
    "import_feed",
    "job_posting",
    "job_postings_jsonld",
    "parse_work_places",
    "read_dgpa_xml",
    "register_vacancy",
    "taipei_date",
    "work_place",
    "write_dgpa_xml",
]

# Exports whose module needs an optional dependency: name -> (module, package, extra).
_LAZY: _typing.Final = {"SqlVacancyRepository": (".sqlstore", "sqlalchemy", "vacancy")}


def __getattr__(name: str) -> object:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, package, extra = found
    try:
        module = _importlib.import_module(module_name, __name__)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != package:
            raise
        raise errors.VacancyExtraMissingError(
            f"{name} needs {exc.name}", module="SQLAlchemy", extra=extra
        ) from exc
    value = getattr(module, name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
