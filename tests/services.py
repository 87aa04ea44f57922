"""What a test does when a service or tool it needs is missing."""

from __future__ import annotations

import os

import pytest

__all__ = ["unavailable"]


def unavailable(message: str) -> None:
    """Fail under CI (scripts/test sets TWCERT_REQUIRE_SERVICES=1), skip elsewhere."""
    if os.environ.get("TWCERT_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (scripts/test must provide it)")
    pytest.skip(message)
