"""CRL fetching and caching against a loopback repository server."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twcert import load_certificate
from twcert.certificate import TaiwanCertificate
from twcert.errors import RevocationDataError
from twcert.revocation import CRLCache, FetchError
from twcert.testing import FakeGPKI, build_crl
from twcert.testing.servers import RepositoryServer

DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def server() -> Iterator[RepositoryServer]:
    with RepositoryServer() as srv:
        yield srv


@pytest.fixture
def moica(pki: FakeGPKI) -> TaiwanCertificate:
    return load_certificate(pki.moica.der)


def _crl(pki: FakeGPKI, serials: list[int], number: int, this_update: dt.datetime = NOW - DAY) -> bytes:
    return build_crl(
        pki.moica, serials, this_update=this_update, next_update=this_update + 7 * DAY, crl_number=number
    )


def test_fetch_then_conditional_refresh(
    pki: FakeGPKI, moica: TaiwanCertificate, server: RepositoryServer
) -> None:
    server.files["/moica.crl"] = _crl(pki, [1, 2, 3], 1)
    cache = CRLCache()
    url = server.url("/moica.crl")
    index = cache.fetch(url, moica, NOW)
    assert len(index) == 3 and 2 in index
    assert cache.get(url, moica.subject_key_identifier, NOW) is index
    # A forced refresh of an unchanged CRL costs a 304, not a download.
    again = cache.fetch(url, moica, NOW, force=True)
    assert again is index and server.not_modified["/moica.crl"] == 1
    server.files["/moica.crl"] = _crl(pki, [1, 2, 3, 4], 2)
    newer = cache.fetch(url, moica, NOW, force=True)
    assert len(newer) == 4 and cache.get(url, moica.subject_key_identifier, NOW) is newer


def test_stale_index_answers_nothing(pki: FakeGPKI, moica: TaiwanCertificate) -> None:
    cache = CRLCache()
    cache.preload(_crl(pki, [1], 1), moica, url="http://x/crl")
    assert cache.get("http://x/crl", moica.subject_key_identifier, NOW) is not None
    assert cache.get("http://x/crl", moica.subject_key_identifier, NOW + 30 * DAY) is None
    # ... and never for another CA's certificates.
    other = load_certificate(pki.gca.der)
    assert cache.get("http://x/crl", other.subject_key_identifier, NOW) is None


def test_older_crl_never_replaces_newer(pki: FakeGPKI, moica: TaiwanCertificate) -> None:
    cache = CRLCache()
    cache.preload(_crl(pki, [1, 2], 5), moica, url="http://x/crl")
    cache.preload(_crl(pki, [1], 4), moica, url="http://x/crl")
    index = cache.get("http://x/crl", moica.subject_key_identifier, NOW)
    assert index is not None and index.crl_number == 5


def test_download_failures(pki: FakeGPKI, moica: TaiwanCertificate, server: RepositoryServer) -> None:
    cache = CRLCache(timeout=2)
    with pytest.raises(FetchError):
        cache.fetch(server.url("/missing.crl"), moica, NOW)
    server.files["/junk.crl"] = b"not a crl"
    with pytest.raises(RevocationDataError):
        cache.fetch(server.url("/junk.crl"), moica, NOW)
    server.files["/gca.crl"] = build_crl(pki.gca, [], this_update=NOW - DAY, next_update=NOW + DAY)
    with pytest.raises(RevocationDataError):
        cache.fetch(server.url("/gca.crl"), moica, NOW)  # signed by another CA
    server.files["/big.crl"] = _crl(pki, list(range(1, 2000)), 1)
    with pytest.raises(FetchError, match="exceeds"):
        CRLCache(max_bytes=1000).fetch(server.url("/big.crl"), moica, NOW)
    with pytest.raises(FetchError, match="scheme"):
        cache.fetch("file:///etc/passwd", moica, NOW)


def test_partition_crl_must_be_the_one_asked_for(
    pki: FakeGPKI, moica: TaiwanCertificate, server: RepositoryServer
) -> None:
    server.files["/p2.crl"] = build_crl(
        pki.moica, [], this_update=NOW - DAY, next_update=NOW + DAY, partition_url=server.url("/p1.crl")
    )
    with pytest.raises(RevocationDataError, match="partition"):
        CRLCache().fetch(server.url("/p2.crl"), moica, NOW)
    server.files["/p1.crl"] = server.files["/p2.crl"]
    assert CRLCache().fetch(server.url("/p1.crl"), moica, NOW).partition_urls == (server.url("/p1.crl"),)


def test_background_refresh_keeps_a_crl_fresh(
    pki: FakeGPKI, moica: TaiwanCertificate, server: RepositoryServer
) -> None:
    now = [NOW]
    server.files["/moica.crl"] = _crl(pki, [1], 1)
    cache = CRLCache(refresh_margin=dt.timedelta(hours=12))
    refresher = cache.start_background_refresh(
        [(server.url("/moica.crl"), moica)], interval=0.05, clock=lambda: now[0]
    )
    try:
        deadline = time.monotonic() + 60  # three refresh phases; generous for a slow machine
        while cache.get(server.url("/moica.crl"), moica.subject_key_identifier, now[0]) is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # Close to nextUpdate, the refresher fetches the CA's next CRL before logins need it.
        server.files["/moica.crl"] = _crl(pki, [1, 2], 2, this_update=NOW + 6 * DAY)
        now[0] = NOW + 6 * DAY + dt.timedelta(hours=1)
        while True:
            index = cache.get(server.url("/moica.crl"), moica.subject_key_identifier, now[0])
            if index is not None and index.crl_number == 2:
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # A failing repository keeps the last good index and records the error.
        server.down = True
        now[0] = NOW + 13 * DAY - dt.timedelta(hours=1)
        while not refresher.errors:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert cache.get(server.url("/moica.crl"), moica.subject_key_identifier, now[0]) is not None
    finally:
        refresher.stop()


def _open_in_child(
    directory: str,
    url: str,
    issuer_der: bytes,
    serial: int,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    issuer = load_certificate(issuer_der)
    cache = CRLCache(directory=directory)
    loaded = cache.load_directory(issuers=[issuer])
    ski = issuer.subject_key_identifier
    index = cache.get(url, ski, NOW)
    out.put((loaded, index is not None and serial in index))


def test_indexes_are_shared_with_other_processes(
    pki: FakeGPKI, moica: TaiwanCertificate, tmp_path: Path
) -> None:
    cache = CRLCache(directory=tmp_path)
    cache.preload(_crl(pki, [11, 22, 33], 1), moica, url="http://x/crl")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(
        target=_open_in_child,
        args=(str(tmp_path), "http://x/crl", pki.moica.der, 22, out),
        daemon=True,
    )
    child.start()
    assert out.get(timeout=60) == (1, True)
    child.join(30)
    # A damaged file is ignored, never trusted.
    for path in tmp_path.glob("*.crlidx"):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    assert CRLCache(directory=tmp_path).load_directory(issuers=[moica]) == 0


def test_partition_named_by_a_relative_name_covers_no_url(
    pki: FakeGPKI, moica: TaiwanCertificate, server: RepositoryServer
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    idp = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "CRL3")]),
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.moica.name)
        .last_update(NOW - DAY)
        .next_update(NOW + DAY)
        .add_extension(idp, critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.moica.key.public_key()), False)
        .sign(pki.moica.key, hashes.SHA256())
    )
    server.files["/complete.crl"] = crl.public_bytes(serialization.Encoding.DER)
    # Served where a complete CRL is expected, it must not be taken for one.
    with pytest.raises(RevocationDataError, match="partition"):
        CRLCache().fetch(server.url("/complete.crl"), moica, NOW)
