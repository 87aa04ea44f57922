"""The Django application: label ``twcert``, checks and signal receivers registered in ``ready()``."""

from __future__ import annotations

from django.apps import AppConfig  # type: ignore[import-untyped, unused-ignore]

__all__ = ["TwcertConfig"]


class TwcertConfig(AppConfig):  # type: ignore[misc, unused-ignore]
    name = "twcert.contrib.django"
    # Explicit: the default label would be "django" (the last part of ``name``), and a label
    # cannot change once migrations have shipped.
    label = "twcert"
    verbose_name = "憑證登入 (twcert)"
    # Pinned so the host project's DEFAULT_AUTO_FIELD cannot change our migrations.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in  # type: ignore[import-untyped, unused-ignore]

        from . import checks, service, signals

        checks.register()
        service.connect_reload()
        user_logged_in.connect(signals.store_principal, dispatch_uid="twcert.store_principal")
