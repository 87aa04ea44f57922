"""Fixtures shared by the twcert tests: a validator over the committed fixture PKI."""

from __future__ import annotations

from typing import Any

from twcert import load_certificate
from twcert.revocation import CARevocation, CRLCache, RevocationChecker
from twcert.testing.fixtures import FixtureSet
from twcert.validation import ValidationPolicy, Validator

FIXTURE_CAS_WITH_CRLS = ("MOICA1", "MOICA3", "GCA", "GTESTCA", "MOEACA", "XCA", "MOICA_EXPIRED")


def fixture_validator(
    fs: FixtureSet, *, crls: tuple[str, ...] = ("MOICA2-complete",), **kwargs: Any
) -> Validator:
    """A validator over the committed fixture PKI with its CRLs preloaded and no network."""
    cache = CRLCache()
    for name in crls:
        entry = fs.manifest["crls"][name]
        ca = load_certificate(fs.pki.cas[entry["ca"]].der)
        cache.preload(fs.crl(name), ca, url=entry.get("url") or fs.pki.cas[entry["ca"]].complete_crl_url)
    for label in FIXTURE_CAS_WITH_CRLS:
        ca = fs.pki.cas[label]
        cache.preload(fs.crl(f"{label}-complete"), load_certificate(ca.der), url=ca.complete_crl_url)
    kwargs.setdefault("checker", RevocationChecker(crls=cache, fetch_on_demand=False))
    arls = [fs.crl(f"GRCA{n}-arl") for n in (1, 2, 3)]
    checker = kwargs.pop("checker")
    policy = ValidationPolicy(**kwargs)
    return Validator(
        fs.pki.trust_store(), policy, lambda: fs.now, checker=checker, ca_revocation=CARevocation(arls)
    )
