"""The app's identity and its migrations: label, pinned auto field, nothing left to migrate."""

from __future__ import annotations

import io

from django.apps import apps
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from twcert.contrib.django import models


def test_app_label_and_verbose_name() -> None:
    config = apps.get_app_config("twcert")
    assert config.name == "twcert.contrib.django"
    assert config.verbose_name and "twcert" in config.verbose_name


def test_models_use_big_auto_field_whatever_the_project_says() -> None:
    from django.conf import settings

    assert settings.DEFAULT_AUTO_FIELD == "django.db.models.AutoField"
    for model in (models.Challenge, models.PinFailure, models.Binding, models.Person, models.Agency):
        assert model._meta.pk.get_internal_type() == "BigAutoField"


def test_makemigrations_finds_no_changes() -> None:
    out = io.StringIO()
    # --check exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "twcert", check=True, dry_run=True, stdout=out, verbosity=1)
    assert "No changes detected" in out.getvalue()


def test_every_migration_is_applied() -> None:
    executor = MigrationExecutor(connections["default"])
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    applied = {name for app, name in executor.loader.applied_migrations if app == "twcert"}
    assert "0001_initial" in applied
