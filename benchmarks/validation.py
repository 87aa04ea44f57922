"""Login-time certificate validation against the same-run floor and pyhanko-certvalidator.

    python benchmarks/validation.py [--entries 1000000] [--pyhanko-runs 3]

The citizen certificate's issuing CA has a CRL of ``--entries`` revoked serials, indexed once.
Figures, all per certificate, single thread:

* floor — parse the leaf and do 2 RSA-2048 verifications with cryptography (leaf signature by
  the CA, card signature over a challenge): the least any correct login can cost;
* twcert validate(parsed) — the Validator's per-login path on an already loaded certificate
  whose CA signature it has not verified before (the remembered signatures are forgotten before
  every call, inside the timing);
* twcert load+validate — including :func:`twcert.load_certificate` of the DER, its cache of
  parsed certificates forgotten too: a certificate seen for the first time;
* the same two with nothing forgotten (a card that logged in before: the certificate parsed and
  its CA signature verified once);
* pyhanko — full validation with a reused ValidationContext holding the same CRL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import fmt, machine, per_call

from twcert import load_certificate
from twcert.certificate import _load_cached
from twcert.revocation import CARevocation, CRLCache, RevocationChecker
from twcert.testing import FakeCA, Revoked, build_crl, random_serials
from twcert.testing.fixtures import FixtureSet
from twcert.validation import Validator

ROOT = Path(__file__).resolve().parent.parent


def _big_crl(ca: FakeCA, now: dt.datetime, entries: int) -> bytes:
    revoked = [Revoked(s, now - dt.timedelta(days=3)) for s in random_serials(entries)]
    return build_crl(
        ca, revoked, this_update=now - dt.timedelta(days=1), next_update=now + dt.timedelta(days=6)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pyhanko-runs", type=int, default=3)
    args = parser.parse_args()

    fs = FixtureSet.load(ROOT / "fixtures" / "gpki")
    now = fs.now
    moica = fs.pki.cas["MOICA2"]
    issued = fs.issued("citizen-wang")
    leaf_der = issued.der
    ca_cert = load_certificate(moica.der)

    print(f"machine: {machine()}")
    print(f"building a CRL of {args.entries:,} entries …", flush=True)
    start = time.perf_counter()
    crl_der = _big_crl(moica, now, args.entries)
    # The million builder objects are gone now; collect them so no GC pass over them lands in
    # a timed loop (the library itself keeps none of them).
    gc.collect()
    print(f"  built {len(crl_der) / 2**20:.1f} MiB in {time.perf_counter() - start:.1f} s")

    cache = CRLCache()
    start = time.perf_counter()
    cache.preload(crl_der, ca_cert, url=moica.complete_crl_url)
    print(f"  verified + indexed by twcert in {fmt(time.perf_counter() - start)}")
    validator = Validator(
        fs.pki.trust_store(),
        clock=lambda: now,
        ca_revocation=CARevocation([fs.crl("GRCA2-arl")]),
        checker=RevocationChecker(crls=cache, fetch_on_demand=False),
    )
    parsed = load_certificate(leaf_der)
    result = validator.validate(parsed)
    assert result.revocation.source == "crl", result.revocation

    challenge = b"x" * 32
    card_signature = issued.key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
    ca_public = moica.certificate.public_key()

    def floor() -> None:
        cert = x509.load_der_x509_certificate(leaf_der)
        key = cert.public_key()
        ca_public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]
        key.verify(card_signature, challenge, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]

    def ours_parsed() -> None:
        validator._verified.clear()
        validator.validate(parsed)

    def ours_full() -> None:
        validator._verified.clear()
        _load_cached.cache_clear()
        validator.validate(load_certificate(leaf_der))

    def ours_parsed_again() -> None:
        validator.validate(parsed)

    def ours_full_again() -> None:
        validator.validate(load_certificate(leaf_der))

    t_floor = per_call(floor)
    t_parsed = per_call(ours_parsed)
    t_full = per_call(ours_full)
    t_parsed_again = per_call(ours_parsed_again)
    t_full_again = per_call(ours_full_again)

    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    store = fs.pki.trust_store()
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(a.certificate.der) for a in store.anchors],
        other_certs=[asn1_x509.Certificate.load(i.certificate.der) for i in store.intermediates],
        moment=now,
        allow_fetching=False,
        crls=[crl_der, fs.crl("GRCA2-arl")],
        revocation_mode="hard-fail",
    )
    leaf_asn1 = asn1_x509.Certificate.load(leaf_der)

    def pyhanko_once() -> None:
        validator = CertificateValidator(leaf_asn1, validation_context=context)
        asyncio.run(validator.async_validate_usage({"digital_signature"}))

    start = time.perf_counter()
    pyhanko_once()
    first = time.perf_counter() - start
    timings = []
    for _ in range(args.pyhanko_runs):
        start = time.perf_counter()
        pyhanko_once()
        timings.append(time.perf_counter() - start)
    t_pyhanko = sorted(timings)[len(timings) // 2]

    rows = [
        ("floor: parse leaf + 2 RSA-2048 verifies", t_floor),
        ("twcert Validator.validate(parsed)", t_parsed),
        ("twcert load_certificate + validate", t_full),
        ("twcert Validator.validate(parsed), seen before", t_parsed_again),
        ("twcert load_certificate + validate, seen before", t_full_again),
        (f"pyhanko-certvalidator, reused context (first call {fmt(first)})", t_pyhanko),
    ]
    print(f"\nCRL entries: {args.entries:,}")
    print(f"{'measure':62s} {'per call':>10s} {'per second':>12s}")
    for name, seconds in rows:
        print(f"{name:62s} {fmt(seconds):>10s} {1 / seconds:>12,.0f}")
    print(
        f"\ntwcert validate(parsed): {t_floor / t_parsed:.0%} of the floor's throughput; "
        f"load+validate: {t_floor / t_full:.0%}"
    )
    print(f"twcert load+validate vs pyhanko: {t_pyhanko / t_full:,.0f}× faster")


if __name__ == "__main__":
    main()
