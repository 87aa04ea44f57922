"""The JSON every login endpoint answers with: one schema for both adapters (``docs/web-json.md``).

Every body has ``"status"``: ``"ok"``, ``"account_required"`` or ``"error"``. A failure carries
``"error"`` (the catalogued error: ``code``, ``message_zh``, ``message_en``, ``action_zh``,
``action_en``, ``action_url``, ``http_status``, and ``tries_left`` after a wrong PIN) and is
sent with that HTTP status.
"""

from __future__ import annotations

from typing import Any, Final

from twcert.challenge import Challenge
from twcert.errors import TwcertError
from twcert.login import Principal

__all__ = [
    "CONTENT_TYPE",
    "account_required_payload",
    "challenge_payload",
    "error_payload",
    "logged_in_payload",
    "logged_out_payload",
    "principal_payload",
]

CONTENT_TYPE: Final = "application/json"


def error_payload(error: TwcertError) -> dict[str, Any]:
    """``{"status": "error", "error": {…}}``."""
    data = error.as_dict()
    data["http_status"] = error.http_status
    tries = error.params.get("tries_left")
    if isinstance(tries, int):
        data["tries_left"] = tries
    return {"status": "error", "error": data}


def challenge_payload(challenge: Challenge, signature_type: str, csrf: str) -> dict[str, Any]:
    """What the login page hands to HiPKI's ``MakeSignature`` (and the CSRF token to use next)."""
    return {
        "status": "ok",
        "challenge_id": challenge.id,
        "tbs": challenge.tbs_text,
        "tbs_encoding": "NONE",
        "hash_algorithm": "SHA256",
        "signature_type": signature_type if signature_type in ("PKCS7", "PKCS1") else "PKCS7",
        "expires_at": challenge.expires_at.isoformat(),
        "csrf_token": csrf,
    }


def principal_payload(principal: Principal) -> dict[str, Any]:
    """Who logged in, without the holder's name or national ID."""
    return {**principal.as_dict(), "first_use": principal.first_use}


def logged_in_payload(principal: Principal, redirect: str) -> dict[str, Any]:
    return {"status": "ok", "principal": principal_payload(principal), "redirect": redirect}


def account_required_payload(error: TwcertError, first_use_url: str) -> dict[str, Any]:
    """First use of a citizen card: the signature was verified; the account is still needed."""
    return {**error_payload(error), "status": "account_required", "first_use_url": first_use_url}


def logged_out_payload(redirect: str) -> dict[str, Any]:
    return {"status": "ok", "redirect": redirect}
