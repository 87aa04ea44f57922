"""Log a fake card in through a test client, as the login page's script does.

One call runs the page's side of the protocol: get a challenge, have the card answer it
(:meth:`FakeCard.sign`, or a prepared failure such as :meth:`FakeCard.wrong_pin`), post the
answer. The helpers only use the test client's public API, so importing this module needs
neither Flask nor Django.
"""

from __future__ import annotations

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
    ``Client(enforce_csrf_checks=True)`` too: the token comes from the login page's cookie.
    """
    prefix = prefix.rstrip("/") + "/"
    host = client.defaults.get("HTTP_HOST", "testserver")
    if "csrftoken" not in client.cookies:
        client.get(prefix, secure=secure)
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    headers = {
        "HTTP_X_CSRFTOKEN": token,
        "HTTP_ACCEPT": "application/json",
        # Browsers send Origin on POST; Django's CSRF check over HTTPS needs it.
        "HTTP_ORIGIN": f"{'https' if secure else 'http'}://{host}",
    }
    got = client.post(f"{prefix}challenge/", {}, content_type="application/json", secure=secure, **headers)
    if got.status_code != 200:
        raise AssertionError(f"challenge refused: HTTP {got.status_code} {got.content[:200]!r}")
    challenge = got.json()
    body: dict[str, Any] = {
        "challenge_id": challenge["challenge_id"],
        "response": answer if answer is not None else card.sign(challenge["tbs"]),
    }
    if account is not None:
        body["account"] = account
    return client.post(f"{prefix}login/", body, content_type="application/json", secure=secure, **headers)
