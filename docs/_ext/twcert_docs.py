"""A Sphinx directive that renders the error catalogue from the code itself.

``{twcert-errors}`` walks :func:`twcert.errors.catalogue` (after importing the packages that add
errors: the vacancy domain, the card side) and emits one row per stable code: class, zh-TW
message (the manual's wording), English message, the action, and the HTTP status adapters use.
"""

from __future__ import annotations

import importlib
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

_PACKAGES = ("twcert", "twcert.card.errors", "twcert_vacancy.errors", "twcert.agency.orglist", "twcert.contrib.flask")


def _row(cells: list[str]) -> nodes.row:
    row = nodes.row()
    for text in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text=text)
        row += entry
    return row


class ErrorCatalogue(Directive):
    has_content = False

    def run(self) -> list[nodes.Node]:
        for name in _PACKAGES:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional extra is not installed where the docs build
                continue
        from twcert.errors import catalogue

        headers = ["Code", "Class", "Message (zh-TW)", "Message (English)", "Action", "HTTP"]
        table = nodes.table()
        group = nodes.tgroup(cols=len(headers))
        table += group
        for width in (14, 16, 30, 30, 22, 6):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row(headers)
        group += head
        body = nodes.tbody()
        for code, cls in catalogue().items():
            body += _row([code, f"{cls.__module__}.{cls.__qualname__}", cls.message_zh, cls.message_en,
                          cls.action_zh or cls.action_en, str(cls.http_status)])
        group += body
        return [table]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("twcert-errors", ErrorCatalogue)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
