"""twcert_vacancy — the government job-vacancy board (事求人機關徵才系統) domain model."""

from __future__ import annotations

__all__: list[str] = []
