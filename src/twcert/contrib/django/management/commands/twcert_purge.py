"""``manage.py twcert_purge``: drop expired challenges from the nonce store (run it from cron)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand  # type: ignore[import-untyped, unused-ignore]

from twcert.contrib.django.service import get_service

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc, unused-ignore]
    help = "Delete login challenges that expired more than --grace seconds ago."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--grace", type=int, default=3600, help="seconds kept after expiry (default 3600)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        service = get_service()
        # Kept a while after expiry so a late completion says "expired", not "unknown".
        cutoff = service.clock() - dt.timedelta(seconds=options["grace"])
        removed = service.nonces.purge(cutoff)
        self.stdout.write(f"purged {removed} expired challenges")
