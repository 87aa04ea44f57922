"""Django adapter: card login (自然人憑證 / 機關憑證) for a Django project.

Add ``"twcert.contrib.django"`` to ``INSTALLED_APPS``, ``TwcertBackend`` to
``AUTHENTICATION_BACKENDS``, include ``twcert.contrib.django.urls`` and configure the one
``TWCERT = {...}`` setting (see :mod:`twcert.contrib.django.conf` and ``docs/django.md``).

This package module imports nothing from Django so that listing it in ``INSTALLED_APPS`` is
safe before the app registry is ready; import the submodules you need.
"""

from __future__ import annotations

__all__: list[str] = []
