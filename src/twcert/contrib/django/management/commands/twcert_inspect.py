"""``manage.py twcert_inspect``: ``twcert inspect`` with the project's configured trust store."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from django.core.management.base import BaseCommand, CommandError  # type: ignore[import-untyped, unused-ignore]

from twcert.cli import main
from twcert.contrib.django.conf import get_settings

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc, unused-ignore]
    help = (
        "Show what certificates are (family, generation, holder, validity), naming the CAs of "
        "TWCERT's trust store; --configured lists that trust store itself."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("files", nargs="*", help="PEM, DER or base64 certificate files")
        parser.add_argument(
            "--configured", action="store_true", help="inspect the CA certificates TWCERT trusts"
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.add_argument("--details", action="store_true", help="show serials, policies and URLs")
        parser.add_argument("--at", help="judge validity at this ISO time (default: now)")

    def handle(self, *args: Any, **options: Any) -> None:
        conf = get_settings()
        ca_files = [spec.path for spec in conf.ca_files]
        files = list(options["files"])
        argv = ["inspect"]
        if options["configured"]:
            files = ca_files + files
            if conf.trust_bundled:
                argv.append("--bundled")
        if not files and "--bundled" not in argv:
            raise CommandError("give certificate files or --configured")
        for path in ca_files:
            argv += ["--ca", path]
        if options["json"]:
            argv.append("--json")
        if options["details"]:
            argv.append("--verbose")
        if options["at"]:
            argv += ["--at", options["at"]]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*argv, *files])
        self.stdout.write(out.getvalue(), ending="")
        if err.getvalue():
            self.stderr.write(err.getvalue(), ending="")
        if code:
            raise CommandError(f"twcert inspect exited with status {code}", returncode=code)
