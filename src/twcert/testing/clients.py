"""Log a fake card in through a test client, as the login page's script does.

One call runs the page's side of the protocol: get a challenge, have the card answer it
(:meth:`FakeCard.sign`, or a prepared failure such as :meth:`FakeCard.wrong_pin`), post the
answer. The helpers only use the test client's public API, so importing this module needs
neither Flask nor Django.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .kit import FakeCard

__all__ = ["CSRF_HEADER", "django_card_login", "flask_card_login"]

#: The header both adapters read the CSRF token from on JSON posts.
CSRF_HEADER = "X-CSRFToken"


def flask_card_login(
    client: Any,
    card: FakeCard,
    *,
    account: str | None = None,
    answer: dict[str, Any] | None = None,
    prefix: str = "/twcert",
) -> Any:
    """Log ``card`` in through a Flask test client (``app.test_client()``); the login response.

    ``answer`` replaces the card's signature (``card.wrong_pin(1)``, ``card.cancelled()``…);
    ``account`` is the first-use account sent with the login.
    """
    got = client.get(f"{prefix}/challenge", headers={"Accept": "application/json"})
    if got.status_code != 200:
        raise AssertionError(f"challenge refused: HTTP {got.status_code} {got.get_data(as_text=True)[:200]}")
    challenge = got.get_json()
    body: dict[str, Any] = {
        "challenge_id": challenge["challenge_id"],
        "response": answer if answer is not None else card.sign(challenge["tbs"]),
    }
    if account is not None:
        body["account"] = account
    return client.post(f"{prefix}/login", json=body, headers={CSRF_HEADER: challenge["csrf_token"]})


def django_card_login(
    client: Any,
    card: FakeCard,
    *,
    account: str | None = None,
    answer: dict[str, Any] | None = None,
    prefix: str = "/login/card/",
    secure: bool = True,
) -> Any:
    """Log ``card`` in through a Django test client (``django.test.Client``); the login response.

    ``prefix`` is where the host includes ``twcert.contrib.django.urls``. Works with
    ``Client(enforce_csrf_checks=True)`` too: like the login page's script, it reads the token
    from the login page, asks for a challenge and posts the answer with the challenge's token.
    """
    prefix = prefix.rstrip("/") + "/"
    host = client.defaults.get("HTTP_HOST", "testserver")
    page = client.get(f"{prefix}login", secure=secure)
    if page.status_code != 200:
        raise AssertionError(f"login page: HTTP {page.status_code} {page.content[:200]!r}")
    found = re.search(r'data-csrf-token="([^"]+)"', page.content.decode())
    headers = {
        "HTTP_X_CSRFTOKEN": found.group(1) if found else "",
        "HTTP_ACCEPT": "application/json",
        # Browsers send Origin on POST; the adapter checks it.
        "HTTP_ORIGIN": f"{'https' if secure else 'http'}://{host}",
    }
    got = client.post(f"{prefix}challenge", "{}", content_type="application/json", secure=secure, **headers)
    if got.status_code != 200:
        raise AssertionError(f"challenge refused: HTTP {got.status_code} {got.content[:200]!r}")
    challenge = got.json()
    headers["HTTP_X_CSRFTOKEN"] = challenge.get("csrf_token") or headers["HTTP_X_CSRFTOKEN"]
    body: dict[str, Any] = {
        "challenge_id": challenge["challenge_id"],
        "response": answer if answer is not None else card.sign(challenge["tbs"]),
    }
    if account is not None:
        body["account"] = account
    return client.post(
        f"{prefix}login", json.dumps(body), content_type="application/json", secure=secure, **headers
    )
