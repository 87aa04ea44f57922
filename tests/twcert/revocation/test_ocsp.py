"""OCSP against a real ``openssl ocsp`` responder on loopback (good, revoked, unknown, down)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator

import pytest
from cryptography import x509

from twcert import load_certificate
from twcert.errors import CertificateRevokedError, RevocationUnavailableError
from twcert.revocation import (
    CARevocation,
    OCSPClient,
    OCSPError,
    RevocationChecker,
    RevocationSources,
    RevocationState,
)
from twcert.testing import FakeGPKI, Issued, KeyPool, build_ocsp_response
from twcert.testing.servers import OpenSSLOCSPResponder, free_port
from twcert.validation import Validator

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def ocsp_pki() -> FakeGPKI:
    return FakeGPKI(keys=KeyPool(reuse=True), base_url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture(scope="module")
def now() -> dt.datetime:
    # openssl ocsp stamps thisUpdate with the wall clock, so these tests run at the wall clock
    # with certificates issued around it (they never expire under CI).
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def people(ocsp_pki: FakeGPKI, now: dt.datetime) -> dict[str, Issued]:
    window = {"not_before": now - DAY, "not_after": now + 365 * DAY}
    return {
        "good": ocsp_pki.issue_citizen("王小明", "A123456789", **window),
        "revoked": ocsp_pki.issue_citizen("廢止者", "A123456789", **window),
        "unknown": ocsp_pki.issue_citizen("未登錄", "A123456789", **window),
    }


@pytest.fixture(scope="module")
def responder(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], now: dt.datetime
) -> Iterator[OpenSSLOCSPResponder]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is required (scripts/test installs it)")
    ca = ocsp_pki.moica
    signer = ocsp_pki.issue_ocsp_responder(ca)
    port = int(ca.ocsp_url.split(":")[2].split("/")[0])
    entries = [
        (people["good"].certificate, "V", None, None),
        (people["revoked"].certificate, "R", now - 3 * DAY, "keyCompromise"),
    ]
    with OpenSSLOCSPResponder(ca, signer, entries, port=port) as server:
        yield server


def _ca(pki: FakeGPKI) -> object:
    return load_certificate(pki.moica.der)


def test_good_revoked_unknown(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], responder: OpenSSLOCSPResponder, now: dt.datetime
) -> None:
    client = OCSPClient()
    ca = load_certificate(ocsp_pki.moica.der)
    good = client.check(load_certificate(people["good"].der), ca, now)
    assert good.state is RevocationState.GOOD and good.source == "ocsp"
    assert good.url == ocsp_pki.moica.ocsp_url and good.next_update is not None
    revoked = client.check(load_certificate(people["revoked"].der), ca, now)
    assert revoked.state is RevocationState.REVOKED
    assert revoked.reason is x509.ReasonFlags.key_compromise
    assert revoked.revoked_at is not None and abs(revoked.revoked_at - (now - 3 * DAY)) < dt.timedelta(
        seconds=2
    )
    unknown = client.check(load_certificate(people["unknown"].der), ca, now)
    assert unknown.state is RevocationState.UNKNOWN and unknown.failures


def test_answers_are_cached_until_next_update(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], responder: OpenSSLOCSPResponder, now: dt.datetime
) -> None:
    client = OCSPClient()
    ca = load_certificate(ocsp_pki.moica.der)
    cert = load_certificate(people["good"].der)
    assert client.cached(cert, ca, now) is None
    client.check(cert, ca, now)
    with responder.stopped():
        assert client.check(cert, ca, now).state is RevocationState.GOOD  # from the cache
        assert client.cached(cert, ca, now + dt.timedelta(hours=2)) is None  # -nmin 60


def test_responder_down(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], responder: OpenSSLOCSPResponder, now: dt.datetime
) -> None:
    ca = load_certificate(ocsp_pki.moica.der)
    with responder.stopped():
        status = OCSPClient(timeout=2).check(load_certificate(people["good"].der), ca, now)
    assert status.state is RevocationState.UNKNOWN
    assert "OCSP" in status.failures[0]


def test_validator_with_ocsp_only(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], responder: OpenSSLOCSPResponder, now: dt.datetime
) -> None:
    from twcert.testing import build_crl

    arl = build_crl(ocsp_pki.cas["GRCA2"], [], this_update=now - DAY, next_update=now + 6 * DAY)
    checker = RevocationChecker(sources=RevocationSources.OCSP_ONLY)
    validator = Validator(
        ocsp_pki.trust_store(), clock=lambda: now, checker=checker, ca_revocation=CARevocation([arl])
    )
    assert validator.validate(people["good"].der).revocation.source == "ocsp"
    with pytest.raises(CertificateRevokedError):
        validator.validate(people["revoked"].der)
    with pytest.raises(RevocationUnavailableError):
        validator.validate(people["unknown"].der)


# ------------------------------------------------------------------ response checks (built responses)


def _verify(pki: FakeGPKI, cert: Issued, der: bytes, now: dt.datetime, **kwargs: object) -> RevocationState:
    client = OCSPClient(**kwargs)  # type: ignore[arg-type]
    status = client.verify_response(
        der, load_certificate(cert.der), load_certificate(pki.moica.der), now, nonce=b"n" * 16
    )
    return status.state


def test_signed_by_the_ca_itself(ocsp_pki: FakeGPKI, people: dict[str, Issued], now: dt.datetime) -> None:
    der = build_ocsp_response(
        ocsp_pki.moica, people["good"], "good", this_update=now, next_update=now + DAY, nonce=b"n" * 16
    )
    assert _verify(ocsp_pki, people["good"], der, now) is RevocationState.GOOD


@pytest.mark.parametrize(
    "case",
    [
        "wrong_key",
        "responder_from_other_ca",
        "responder_without_eku",
        "wrong_nonce",
        "stale",
        "future",
        "other_certificate",
        "missing_nonce_required",
    ],
)
def test_unusable_responses_are_refused(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], now: dt.datetime, case: str
) -> None:
    ca = ocsp_pki.moica
    target = people["good"]
    kwargs: dict[str, object] = {"this_update": now, "next_update": now + DAY, "nonce": b"n" * 16}
    client_kwargs: dict[str, object] = {}
    if case == "wrong_key":
        # An impostor with the CA's DN and another key signs (and includes its certificate).
        impostor = ocsp_pki.cas["MOICA_ROGUE"]
        der = build_ocsp_response(ca, target, "good", responder=impostor, **kwargs)  # type: ignore[arg-type]
    elif case == "responder_from_other_ca":
        der = build_ocsp_response(
            ca, target, "good", responder=ocsp_pki.issue_ocsp_responder("GCA"), **kwargs
        )  # type: ignore[arg-type]
    elif case == "responder_without_eku":
        plain = ocsp_pki.issue(ca, ocsp_pki.citizen_subject("no eku"), key=ocsp_pki.keys.fresh())
        der = build_ocsp_response(ca, target, "good", responder=plain, **kwargs)  # type: ignore[arg-type]
    elif case == "wrong_nonce":
        kwargs["nonce"] = b"x" * 16
        der = build_ocsp_response(ca, target, "good", **kwargs)  # type: ignore[arg-type]
    elif case == "stale":
        kwargs.update(this_update=now - 3 * DAY, next_update=now - DAY)
        der = build_ocsp_response(ca, target, "good", **kwargs)  # type: ignore[arg-type]
    elif case == "future":
        kwargs.update(this_update=now + DAY, next_update=now + 2 * DAY)
        der = build_ocsp_response(ca, target, "good", **kwargs)  # type: ignore[arg-type]
    elif case == "other_certificate":
        der = build_ocsp_response(ca, people["revoked"], "good", **kwargs)  # type: ignore[arg-type]
    else:
        kwargs["nonce"] = None
        client_kwargs["require_nonce"] = True
        der = build_ocsp_response(ca, target, "good", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(OCSPError):
        _verify(ocsp_pki, target, der, now, **client_kwargs)


def test_delegated_responder_and_missing_nonce_accepted(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], now: dt.datetime
) -> None:
    responder = ocsp_pki.issue_ocsp_responder(ocsp_pki.moica)
    der = build_ocsp_response(
        ocsp_pki.moica,
        people["revoked"],
        "revoked",
        this_update=now,
        next_update=now + DAY,
        responder=responder,
        revoked_at=now - DAY,
    )
    assert _verify(ocsp_pki, people["revoked"], der, now) is RevocationState.REVOKED


def test_garbage_is_an_ocsp_error(ocsp_pki: FakeGPKI, people: dict[str, Issued], now: dt.datetime) -> None:
    for der in (b"", b"\x30\x03\x0a\x01\x01", b"junk" * 10):
        with pytest.raises(OCSPError):
            _verify(ocsp_pki, people["good"], der, now)


def test_next_update_at_the_end_of_time_is_fresh(
    ocsp_pki: FakeGPKI, people: dict[str, Issued], now: dt.datetime
) -> None:
    # 9999-12-31 plus the skew overflowed datetime (OverflowError out of Validator.validate).
    end = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    der = build_ocsp_response(
        ocsp_pki.moica, people["good"], "good", this_update=now, next_update=end, nonce=b"n" * 16
    )
    assert _verify(ocsp_pki, people["good"], der, now) is RevocationState.GOOD
