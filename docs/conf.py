"""Sphinx configuration: MyST Markdown pages, autodoc API reference, the error catalogue
generated from the code (``_ext/twcert_docs.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))

project = "twcert"
author = "twcert developers"
copyright = "2026, twcert developers"  # noqa: A001 - Sphinx's name
language = "en"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "twcert_docs",
    "twcert_xref",
]
source_suffix = {".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build", "benchmarks-*.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
# Types from third-party packages are not cross-referenced (no network for intersphinx).
nitpicky = True
suppress_warnings: list[str] = []
# The Django adapter's modules import models and settings: give autodoc a minimal project.
import django  # noqa: E402
from django.conf import settings as django_settings  # noqa: E402

if not django_settings.configured:
    django_settings.configure(
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.admin",
            "django.contrib.messages",
            "twcert.contrib.django",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        SECRET_KEY="docs-build-only",
        USE_TZ=True,
    )
    django.setup()

html_theme = "furo"
html_title = "twcert"
