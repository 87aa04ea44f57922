"""Registering a vacancy (the manual's 「新增職缺」): check every rule, then store it.

On submit the vacancy is published automatically during its online validity period: nothing else
has to happen, because its status is derived from its dates (see :meth:`Vacancy.status`).
"""

from __future__ import annotations

import datetime as dt
import logging

from .model import Vacancy, VacancyActor, taipei_date
from .repository import VacancyRepository
from .rules import Checked, VacancyRules

__all__ = ["register_vacancy"]

logger = logging.getLogger("twcert_vacancy")


def register_vacancy(
    repository: VacancyRepository,
    vacancy: Vacancy,
    actor: VacancyActor,
    *,
    at: dt.datetime,
    rules: VacancyRules | None = None,
) -> Checked:
    """Validate ``vacancy`` as of the Taipei date of ``at`` and add it for ``actor``'s agency.

    Raises :class:`~twcert_vacancy.errors.VacancyInvalidError` (every failing field at once),
    :class:`~twcert_vacancy.errors.VacancyNotOwnerError` when the actor registers for another
    agency, or :class:`~twcert_vacancy.errors.VacancyExistsError`. Returns what was stored and the
    warnings (such as a start date moved to today).
    """
    checked = (rules or VacancyRules()).check_registration(vacancy, today=taipei_date(at))
    stored = repository.add(checked.vacancy, actor, at=at)
    for warning in checked.warnings:
        logger.info("vacancy %s registered with warning %s", stored.work_id, warning.code)
    return Checked(stored, checked.warnings)
