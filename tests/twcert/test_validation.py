from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509

from twcert import CAFamily, load_certificate
from twcert.errors import (
    CertificateExpiredError,
    CertificateFamilyNotAcceptedError,
    CertificateInvalidError,
    CertificateNotYetValidError,
    CertificatePolicyError,
    CertificatePurposeError,
    CertificateRevokedError,
    ConfigurationError,
    RevocationUnavailableError,
    TestCertificateRefused,
    UntrustedCertificateError,
    WrongCertificateUsageError,
)
from twcert.revocation import (
    CARevocation,
    CRLCache,
    CRLIndex,
    RevocationChecker,
    RevocationPolicy,
    RevocationSources,
    RevocationState,
)
from twcert.testing import FakeGPKI, Revoked, build_crl
from twcert.testing.fixtures import FixtureSet
from twcert.testing.servers import RepositoryServer
from twcert.trust import TrustStore
from twcert.validation import ValidationPolicy, Validator

from .conftest import fixture_validator
from .pathpki import PathPKI

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def validator(fixture_set: FixtureSet) -> Validator:
    return fixture_validator(fixture_set)


def test_manifest_expectations(fixture_set: FixtureSet, validator: Validator) -> None:
    for name, entry in fixture_set.certificates.items():
        try:
            result = validator.validate(fixture_set.pem(name))
        except Exception as exc:
            code = getattr(exc, "code", repr(exc))
        else:
            code = "ok"
            assert result.revocation.state is RevocationState.GOOD
        assert code == entry["expect"], name


def test_result_describes_the_chain(fixture_set: FixtureSet, validator: Validator) -> None:
    result = validator.validate(fixture_set.pem("citizen-wang"))
    assert result.family is CAFamily.MOICA and result.generation == "G2"
    assert [c.sha256 for c in result.chain[1:]] == [
        load_certificate(fixture_set.pki.cas[label].der).sha256 for label in ("MOICA2", "GRCA2")
    ]
    assert result.revocation.source == "crl" and result.checked_at == fixture_set.now
    g3 = validator.validate(fixture_set.pem("citizen-chen"))
    assert (
        g3.generation == "G3"
        and g3.chain[-1].sha256 == load_certificate(fixture_set.pki.cas["GRCA3"].der).sha256
    )


def test_specific_errors_carry_details(fixture_set: FixtureSet, validator: Validator) -> None:
    with pytest.raises(CertificateRevokedError) as revoked:
        validator.validate(fixture_set.pem("citizen-revoked"))
    assert revoked.value.params["reason"] == "keyCompromise"
    assert revoked.value.params["revoked_at"] == fixture_set.now - 10 * DAY
    assert "插入之自然人憑證或機關憑證無效" in revoked.value.message
    with pytest.raises(CertificateRevokedError) as hold:
        validator.validate(fixture_set.pem("citizen-on-hold"))
    assert hold.value.params["reason"] == "certificateHold"
    with pytest.raises(CertificateExpiredError):
        validator.validate(fixture_set.pem("citizen-expired"))
    with pytest.raises(CertificateNotYetValidError):
        validator.validate(fixture_set.pem("citizen-not-yet-valid"))
    with pytest.raises(WrongCertificateUsageError):
        validator.validate(fixture_set.pem("citizen-wang-enc"))
    with pytest.raises(TestCertificateRefused) as test:
        validator.validate(fixture_set.pem("agency-test"))
    assert test.value.message == "請勿使用測試之機關憑證登入。"
    with pytest.raises(CertificateFamilyNotAcceptedError):
        validator.validate(fixture_set.pem("business-moeaca"))


def test_same_dn_trap_is_refused(fixture_set: FixtureSet) -> None:
    # Only the G1 chain is trusted: a G2 leaf names the same issuer DN but another key.
    pki = fixture_set.pki
    store = pki.trust_store(include=["GRCA1", "MOICA1"])
    validator = Validator(store, ValidationPolicy(revocation=RevocationPolicy.OFF), lambda: fixture_set.now)
    assert validator.validate(fixture_set.pem("citizen-moica-g1")).generation == "G1"
    with pytest.raises(UntrustedCertificateError):
        validator.validate(fixture_set.pem("citizen-wang"))
    # A leaf claiming MOICA2's key identifier but signed with MOICA1's key.
    forged = pki.issue(
        "MOICA2", pki.citizen_subject("偽造者"), signing_key=pki.cas["MOICA1"].key, key=pki.keys.get()
    )
    with pytest.raises(UntrustedCertificateError):
        fixture_validator(fixture_set).validate(forged.der)


def test_leaf_without_aki_is_found_by_name_and_signature(fixture_set: FixtureSet) -> None:
    pki = fixture_set.pki
    builder_cert = pki.issue("MOICA2", pki.citizen_subject("無AKI"), key=pki.keys.get())
    # Rebuild without the AKI extension.
    cert = builder_cert.certificate
    b = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        if not isinstance(ext.value, x509.AuthorityKeyIdentifier):
            b = b.add_extension(ext.value, ext.critical)
    from cryptography.hazmat.primitives import hashes, serialization

    der = b.sign(pki.cas["MOICA2"].key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    validator = fixture_validator(fixture_set, revocation=RevocationPolicy.OFF)
    assert validator.validate(der).issuing_ca.generation == "G2"


def test_unknown_critical_extension_is_refused(fixture_set: FixtureSet) -> None:
    pki = fixture_set.pki
    weird = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    cert = pki.issue_citizen("怪擴充", "A123456789", extra_extensions=[(weird, True)])
    with pytest.raises(UntrustedCertificateError, match="critical extension"):
        fixture_validator(fixture_set, revocation=RevocationPolicy.OFF).validate(cert.der)


def test_policy_is_required_and_configurable(fixture_set: FixtureSet) -> None:
    pki = fixture_set.pki
    cert = pki.issue_citizen("無政策", "A123456789", policies=("1.2.3.4",))
    with pytest.raises(CertificatePolicyError):
        fixture_validator(fixture_set, revocation=RevocationPolicy.OFF).validate(cert.der)
    relaxed = fixture_validator(fixture_set, revocation=RevocationPolicy.OFF, required_policies=())
    assert relaxed.validate(cert.der)


def test_allow_test_accepts_gtestca(fixture_set: FixtureSet) -> None:
    validator = fixture_validator(fixture_set, allow_test=True)
    assert validator.validate(fixture_set.pem("agency-test")).family is CAFamily.GTESTCA
    assert validator.validate(fixture_set.pem("citizen-test-policy"))


def test_gtestca_outside_the_trust_store_still_gets_the_test_error(fixture_set: FixtureSet) -> None:
    store = fixture_set.pki.trust_store(include=["GRCA2", "MOICA2", "GCA"])
    validator = Validator(store, ValidationPolicy(revocation=RevocationPolicy.OFF), lambda: fixture_set.now)
    with pytest.raises(TestCertificateRefused):
        validator.validate(fixture_set.pem("agency-test"))


def test_hard_fail_soft_fail_off(fixture_set: FixtureSet) -> None:
    empty = RevocationChecker(crls=CRLCache(), fetch_on_demand=False)
    hard = fixture_validator(fixture_set, checker=empty)
    with pytest.raises(RevocationUnavailableError) as info:
        hard.validate(fixture_set.pem("citizen-wang"))
    assert info.value.code == "REVOCATION_UNKNOWN"
    soft = fixture_validator(fixture_set, checker=empty, revocation=RevocationPolicy.SOFT_FAIL)
    assert soft.validate(fixture_set.pem("citizen-wang")).revocation.state is RevocationState.UNKNOWN
    off = fixture_validator(fixture_set, checker=empty, revocation=RevocationPolicy.OFF)
    assert off.validate(fixture_set.pem("citizen-wang")).revocation.state is RevocationState.NOT_CHECKED
    # A revoked answer refuses whatever the policy.
    soft_with_crl = fixture_validator(fixture_set, revocation=RevocationPolicy.SOFT_FAIL)
    with pytest.raises(CertificateRevokedError):
        soft_with_crl.validate(fixture_set.pem("citizen-revoked"))


def test_stale_crl_means_unknown_not_good(fixture_set: FixtureSet) -> None:
    validator = fixture_validator(fixture_set, crls=("MOICA2-old-with-hold",))
    with pytest.raises(RevocationUnavailableError):
        validator.validate(fixture_set.pem("citizen-wang"))


def test_expired_issuing_ca_is_untrusted(fixture_set: FixtureSet) -> None:
    pki = fixture_set.pki
    cert = pki.issue_citizen(
        "舊CA",
        "A123456789",
        ca="MOICA_EXPIRED",
        not_before=fixture_set.now - 900 * DAY,
        not_after=fixture_set.now + 300 * DAY,
    )
    with pytest.raises(UntrustedCertificateError, match="MOICA"):
        fixture_validator(fixture_set).validate(cert.der)


def test_revoked_issuing_ca_is_untrusted(fixture_set: FixtureSet) -> None:
    pki = fixture_set.pki
    grca2, moica2 = pki.cas["GRCA2"], pki.cas["MOICA2"]
    arl = build_crl(
        grca2,
        [Revoked(moica2.serial_number, fixture_set.now - 2 * DAY, x509.ReasonFlags.ca_compromise)],
        this_update=fixture_set.now - DAY,
        next_update=fixture_set.now + 6 * DAY,
        crl_number=99,
    )
    validator = Validator(
        pki.trust_store(),
        clock=lambda: fixture_set.now,
        ca_revocation=CARevocation([arl]),
        checker=fixture_validator(fixture_set).checker,
    )
    with pytest.raises(UntrustedCertificateError, match="revoked"):
        validator.validate(fixture_set.pem("citizen-wang"))


def test_empty_trust_store_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Validator(TrustStore.empty())


def test_fast_path_builds_no_validation_context(
    fixture_set: FixtureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyhanko_certvalidator

    built: list[int] = []
    original = pyhanko_certvalidator.ValidationContext.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(pyhanko_certvalidator.ValidationContext, "__init__", counting)
    validator = fixture_validator(fixture_set)
    validator.validate(fixture_set.pem("citizen-wang"))
    first = len(built)
    assert first >= 1  # the issuing CA's path, once
    for _ in range(20):
        validator.validate(fixture_set.pem("citizen-wang"))
        validator.validate(fixture_set.pem("citizen-lin-left-service"))
    assert len(built) == first


def test_ca_path_is_revalidated_when_its_arl_goes_stale(fixture_set: FixtureSet) -> None:
    now = [fixture_set.now]
    validator = fixture_validator(fixture_set, revocation=RevocationPolicy.HARD_FAIL)
    validator.clock = lambda: now[0]
    validator.validate(fixture_set.pem("citizen-wang"))
    now[0] = fixture_set.now + 10 * DAY  # the GRCA ARL (nextUpdate +6 days) is stale now
    with pytest.raises(RevocationUnavailableError):
        validator.validate(fixture_set.pem("citizen-wang"))


# --------------------------------------------------------------------------- fetching over HTTP


@pytest.fixture
def served() -> Iterator[RepositoryServer]:
    with RepositoryServer() as server:
        yield server


def _serve_pki(fixture_set: FixtureSet, server: RepositoryServer) -> FakeGPKI:
    pki = fixture_set.pki.rebased(server.base_url)
    return pki


def test_validate_fetches_from_the_certificates_own_cdp(
    fixture_set: FixtureSet, served: RepositoryServer
) -> None:
    pki = _serve_pki(fixture_set, served)
    now = dt.datetime.now(dt.UTC)
    good = pki.issue_citizen("王小明", "A123456789", not_before=now - DAY, not_after=now + 365 * DAY)
    bad = pki.issue_citizen("廢止者", "A123456789", not_before=now - DAY, not_after=now + 365 * DAY)
    moica = pki.cas["MOICA2"]
    served.files["/crl/MOICA2/complete.crl"] = build_crl(
        moica, [bad.serial_number], this_update=now - DAY, next_update=now + 6 * DAY
    )
    served.files["/crl/GRCA2/complete.crl"] = build_crl(
        pki.cas["GRCA2"], [], this_update=now - DAY, next_update=now + 6 * DAY
    )
    # MOICA2's own CDP (to GRCA2's ARL) was fixed at fixture time to 127.0.0.1:8080: give it here.
    validator = Validator(
        pki.trust_store(),
        clock=lambda: now,
        ca_revocation=CARevocation([served.files["/crl/GRCA2/complete.crl"]]),
    )
    result = validator.validate(good.der)
    assert result.revocation.url == served.url("/crl/MOICA2/complete.crl")
    # The partition CRL (first CDP) is missing (404), so the complete CRL answered; cached now.
    assert served.requests["/crl/MOICA2/CRL_0001.crl"] == 1
    assert served.requests["/crl/MOICA2/complete.crl"] == 1
    with pytest.raises(CertificateRevokedError):
        validator.validate(bad.der)
    validator.validate(good.der)
    assert served.requests["/crl/MOICA2/complete.crl"] == 1


def test_unreachable_repository_under_hard_fail(fixture_set: FixtureSet, served: RepositoryServer) -> None:
    pki = _serve_pki(fixture_set, served)
    now = dt.datetime.now(dt.UTC)
    good = pki.issue_citizen("王小明", "A123456789", not_before=now - DAY, not_after=now + 365 * DAY)
    served.down = True
    arl = build_crl(pki.cas["GRCA2"], [], this_update=now - DAY, next_update=now + 6 * DAY)
    checker = RevocationChecker(sources=RevocationSources.CRL_ONLY)
    validator = Validator(
        pki.trust_store(), clock=lambda: now, ca_revocation=CARevocation([arl]), checker=checker
    )
    with pytest.raises(RevocationUnavailableError) as info:
        validator.validate(good.der)
    assert "503" in info.value.detail


def test_concurrent_logins_download_a_crl_once(fixture_set: FixtureSet, served: RepositoryServer) -> None:
    pki = _serve_pki(fixture_set, served)
    now = dt.datetime.now(dt.UTC)
    certs = [
        pki.issue_citizen(
            f"甲{i}", "A123456789", not_before=now - DAY, not_after=now + 365 * DAY, partition=None
        )
        for i in range(6)
    ]
    served.files["/crl/MOICA2/complete.crl"] = build_crl(
        pki.cas["MOICA2"], [], this_update=now - DAY, next_update=now + 6 * DAY
    )
    served.delay = 0.3
    arl = build_crl(pki.cas["GRCA2"], [], this_update=now - DAY, next_update=now + 6 * DAY)
    validator = Validator(pki.trust_store(), clock=lambda: now, ca_revocation=CARevocation([arl]))
    errors: list[BaseException] = []

    def login(der: bytes) -> None:
        try:
            validator.validate(der)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=login, args=(c.der,)) for c in certs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert served.requests["/crl/MOICA2/complete.crl"] == 1


def test_clock_is_injected_not_read(fixture_set: FixtureSet) -> None:
    calls: list[int] = []
    now = fixture_set.now

    def clock() -> dt.datetime:
        calls.append(1)
        return now

    validator = fixture_validator(fixture_set)
    validator.clock = clock
    validator.validate(fixture_set.pem("citizen-wang"))
    assert calls


def test_a_remembered_signature_is_only_the_signature(
    fixture_set: FixtureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leaf's CA signature is remembered by both certificates' digests; nothing else is."""
    from twcert import validation

    monkeypatch.setattr(validation, "VERIFIED_SIGNATURES_KEPT", 2)
    now = fixture_set.now
    clock = [now]
    validator = fixture_validator(fixture_set)
    validator.clock = lambda: clock[0]
    wang = fixture_set.issued("citizen-wang").der
    validator.validate(wang)
    validator.validate(wang)
    # The same holder with the CA's signature damaged is another certificate: verified, refused.
    with pytest.raises(UntrustedCertificateError):
        validator.validate(fixture_set.issued("citizen-bad-signature").der)
    # Dates are checked at every call, also for a certificate whose signature is remembered.
    clock[0] = load_certificate(wang).not_after + DAY
    with pytest.raises(CertificateExpiredError):
        validator.validate(wang)
    clock[0] = now
    for name in ("citizen-chen", "citizen-huang-arc", "citizen-wang"):
        validator.validate(fixture_set.issued(name).der)
    assert len(validator._verified) == 2  # bounded: the oldest was dropped


# --------------------------------------------------------------------------- path state (issue 12)


def _path_validator(
    pki: PathPKI, policy: ValidationPolicy, crls: dict[str, bytes] | None = None
) -> Validator:
    """A validator over a pathpki PKI; CRLs by issuing label (the last CA's goes to the cache)."""
    crls = crls if crls is not None else {label: pki.crl(label) for label in pki.cas}
    issuing = list(pki.cas.values())[-1]
    cache = CRLCache()
    cache.put(issuing.crl_url, CRLIndex.from_der(crls[issuing.label], issuer=load_certificate(issuing.der)))
    return Validator(
        pki.trust_store(),
        policy,
        lambda: pki.now,
        checker=RevocationChecker(crls=cache, fetch_on_demand=False),
        ca_revocation=CARevocation([der for label, der in crls.items() if label != issuing.label]),
    )


OFF = ValidationPolicy(revocation=RevocationPolicy.OFF)


def test_path_length_of_a_ca_above_the_issuing_ca_applies_with_revocation_off() -> None:
    pki = PathPKI()
    pki.ca("root")
    pki.ca("int1", "root", path_length=0)
    pki.ca("int2", "int1")
    with pytest.raises(UntrustedCertificateError, match="path length"):
        _path_validator(pki, OFF).validate(pki.leaf("int2"))


def test_required_policy_must_be_asserted_by_every_ca_with_revocation_off() -> None:
    pki = PathPKI()
    pki.ca("root")
    pki.ca("int1", "root", policies=("1.2.3.4",))
    pki.ca("int2", "int1")
    with pytest.raises(CertificatePolicyError):
        _path_validator(pki, OFF).validate(pki.leaf("int2"))
    # Without a required policy nothing is asked of the path.
    _path_validator(pki, ValidationPolicy(revocation=RevocationPolicy.OFF, required_policies=())).validate(
        pki.leaf("int2")
    )


def test_login_purposes_are_policy() -> None:
    pki = PathPKI()
    pki.ca("root")
    pki.ca("int1", "root")
    email_only = pki.leaf("int1", eku=[x509.ExtendedKeyUsageOID.EMAIL_PROTECTION])
    _path_validator(pki, OFF).validate(email_only)
    client_only = ValidationPolicy(
        revocation=RevocationPolicy.OFF,
        login_purposes=frozenset({x509.ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string}),
    )
    with pytest.raises(CertificatePurposeError):
        _path_validator(pki, client_only).validate(email_only)


def test_max_crl_age_without_next_update_is_configurable() -> None:
    pki = PathPKI()
    pki.ca("root")
    pki.ca("int1", "root")
    old = pki.crl("int1", this_update=pki.now - 3 * DAY, next_update=None)
    crls = {"root": pki.crl("root"), "int1": old}
    with pytest.raises(RevocationUnavailableError, match="no nextUpdate"):
        _path_validator(pki, ValidationPolicy(), crls).validate(pki.leaf("int1"))
    _path_validator(pki, ValidationPolicy(max_crl_age=4 * DAY), crls).validate(pki.leaf("int1"))
    soft = ValidationPolicy(revocation=RevocationPolicy.SOFT_FAIL)
    assert (
        _path_validator(pki, soft, crls).validate(pki.leaf("int1")).revocation.state
        is RevocationState.UNKNOWN
    )


def test_ca_crl_without_next_update_expires_the_cached_ca_path() -> None:
    pki = PathPKI()
    pki.ca("root")
    pki.ca("int1", "root")
    # A CA CRL without nextUpdate is fresh for max_crl_age, at most pyhanko's own 30 minutes.
    root_crl = pki.crl("root", this_update=pki.now - dt.timedelta(minutes=10), next_update=None)
    validator = _path_validator(pki, ValidationPolicy(), {"root": root_crl, "int1": pki.crl("int1")})
    leaf = pki.leaf("int1")
    validator.validate(leaf)
    validator.clock = lambda: pki.now + dt.timedelta(minutes=25)  # the cached CA path is re-checked
    with pytest.raises(RevocationUnavailableError):
        validator.validate(leaf)


def test_validator_takes_at_most_five_parameters() -> None:
    import inspect

    assert len(inspect.signature(Validator).parameters) <= 5
    with pytest.raises(TypeError):
        ValidationPolicy(required_policies="2.16.886.101.0.3.3")  # a string is no collection
    pki = PathPKI()
    pki.ca("root")
    with pytest.raises(TypeError):
        Validator(pki.trust_store(), {"revocation": "off"})  # type: ignore[arg-type]


def test_validate_raises_only_catalogued_errors(
    fixture_set: FixtureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    validator = fixture_validator(fixture_set)

    def broken(*args: object) -> object:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(validator.checker, "check", broken)
    with pytest.raises(CertificateInvalidError) as info:
        validator.validate(fixture_set.pem("citizen-wang"))
    assert isinstance(info.value.__cause__, OverflowError)
    with pytest.raises(TypeError, match="not int"):
        validator.validate(42)  # type: ignore[arg-type]
