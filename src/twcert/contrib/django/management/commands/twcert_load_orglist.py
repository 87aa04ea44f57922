"""``manage.py twcert_load_orglist orglist.csv``: replace the Agency table with a DGPA agency-code file."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError  # type: ignore[import-untyped, unused-ignore]

from twcert.agency import Agency, OrgListProblem, read_orglist
from twcert.contrib.django.conf import get_settings
from twcert.contrib.django.stores import DjangoAgencyDirectory
from twcert.errors import TwcertError

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc, unused-ignore]
    help = "Load the DGPA agency-code file (orglist.csv, Big5 or UTF-8) into the twcert Agency table."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="orglist.csv")
        parser.add_argument("--database", help="database alias (default: TWCERT['DATABASE'] or the router)")

    def handle(self, *args: Any, **options: Any) -> None:
        agencies: dict[str, Agency] = {}
        problems: list[OrgListProblem] = []
        try:
            for item in read_orglist(options["path"]):
                if isinstance(item, OrgListProblem):
                    problems.append(item)
                else:
                    agencies[item.code] = item  # a repeated code: the later row wins
        except (OSError, TwcertError) as exc:
            raise CommandError(f"{options['path']}: {exc}") from exc
        for problem in problems:
            self.stderr.write(f"line {problem.line}: {problem.reason}")
        if not agencies:
            raise CommandError("no agency rows found; the table is left unchanged")
        directory = DjangoAgencyDirectory(using=options["database"] or get_settings().database)
        count = directory.replace_all(list(agencies.values()))
        self.stdout.write(f"loaded {count} agencies ({len(problems)} rows reported)")
