"""CRL fetching and caching against a loopback repository server."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twcert import load_certificate
from twcert.certificate import TaiwanCertificate
from twcert.errors import RevocationDataError, UnsafeDirectoryError
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


def test_stored_reports_the_held_index_fresh_or_stale(
    pki: FakeGPKI, moica: TaiwanCertificate, tmp_path: Path
) -> None:
    writer = CRLCache(directory=tmp_path)
    index = writer.preload(_crl(pki, [1, 2], 3), moica, url="http://x/crl")
    assert writer.stored("http://x/crl") is index
    assert writer.stored("http://y/crl") is None
    reader = CRLCache(directory=tmp_path)
    assert reader.load_directory(issuers=[moica]) == 1
    held = reader.stored("http://x/crl")
    assert held is not None and held.sha256 == index.sha256 and len(held) == 2
    # Stale for answers, still there for a report.
    assert reader.get("http://x/crl", moica.subject_key_identifier, NOW + 30 * DAY) is None
    assert reader.stored("http://x/crl") is held


def test_older_crl_never_replaces_newer(pki: FakeGPKI, moica: TaiwanCertificate) -> None:
    cache = CRLCache()
    cache.preload(_crl(pki, [1, 2], 5), moica, url="http://x/crl")
    with pytest.raises(RevocationDataError, match="lower than 5"):
        cache.preload(_crl(pki, [1], 4), moica, url="http://x/crl")
    index = cache.get("http://x/crl", moica.subject_key_identifier, NOW)
    assert index is not None and index.crl_number == 5
    assert cache.highest_crl_number("http://x/crl", moica.subject_key_identifier) == 5


def test_a_mirror_serving_an_older_crl_is_refused(
    pki: FakeGPKI, moica: TaiwanCertificate, server: RepositoryServer
) -> None:
    url = server.url("/moica.crl")
    cache = CRLCache()
    server.files["/moica.crl"] = _crl(pki, [1, 2], 8)
    cache.fetch(url, moica, NOW)
    server.files["/moica.crl"] = _crl(pki, [1], 7, this_update=NOW - 2 * DAY)
    with pytest.raises(RevocationDataError, match="rollback"):
        cache.fetch(url, moica, NOW, force=True)
    index = cache.get(url, moica.subject_key_identifier, NOW)
    assert index is not None and index.crl_number == 8


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


# --------------------------------------------------------------------------- shared directory

KEY = b"deployment secret"


def test_rollback_of_a_genuine_older_index_is_refused(
    pki: FakeGPKI, moica: TaiwanCertificate, tmp_path: Path
) -> None:
    url = "http://x/crl"
    writer = CRLCache(directory=tmp_path, key=KEY)
    writer.preload(_crl(pki, [], 1), moica, url=url)
    # Genuine, correctly keyed files of CRL #1 (empty: serial 5 not revoked), with whatever
    # sidecar a version writes next to the index.
    old = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.suffix in (".crlidx", ".json")}
    writer.preload(_crl(pki, [5], 2), moica, url=url)
    reader = CRLCache(directory=tmp_path, key=KEY)
    assert reader.load_directory() == 1
    for name, data in old.items():  # put back, within nextUpdate: their MAC is valid
        restored = tmp_path / ".restored"
        restored.write_bytes(data)
        os.replace(restored, tmp_path / name)
    # A process that saw #2 keeps it ...
    assert reader.load_directory() == 0
    index = reader.get(url, moica.subject_key_identifier, NOW)
    assert index is not None and index.crl_number == 2 and 5 in index
    # ... and one starting now refuses #1 too: the highest number is recorded under the key.
    fresh = CRLCache(directory=tmp_path, key=KEY)
    assert fresh.load_directory() == 0
    assert fresh.get(url, moica.subject_key_identifier, NOW) is None
    assert fresh.highest_crl_number(url, moica.subject_key_identifier) == 2
    # A record forged without the key is ignored (the rollback then is only what a fresh
    # worker cannot tell: see docs/threat-model.md), never trusted to raise or lower numbers.
    (seen,) = tmp_path.glob("*.seen")
    seen.write_text(seen.read_text().replace('"2"', '"1"'))
    forged = CRLCache(directory=tmp_path, key=KEY)
    assert forged.load_directory() == 1
    assert forged.highest_crl_number(url, moica.subject_key_identifier) == 1  # from the index, not the record


def test_keyed_files_authenticate_the_url_stored_with_them(
    pki: FakeGPKI, moica: TaiwanCertificate, tmp_path: Path
) -> None:
    writer = CRLCache(directory=tmp_path, key=KEY)
    writer.preload(_crl(pki, [5], 1), moica, url="http://x/crl")
    (path,) = tmp_path.glob("*.crlidx")
    data = path.read_bytes()
    assert data.count(b"http://x/crl") == 1
    path.write_bytes(data.replace(b"http://x/crl", b"http://y/crl"))
    assert CRLCache(directory=tmp_path, key=KEY).load_directory() == 0


def test_without_a_key_a_forged_table_is_refused(
    pki: FakeGPKI, moica: TaiwanCertificate, tmp_path: Path
) -> None:
    import hashlib
    import struct

    writer = CRLCache(directory=tmp_path)
    writer.preload(_crl(pki, [5, 6, 7], 1), moica, url="http://x/crl")
    (path,) = tmp_path.glob("*.crlidx")
    data = bytearray(path.read_bytes())
    # Whoever can write the file empties the table and recomputes the plain digest.
    _, _, meta_length, file_length, _ = struct.unpack_from("<8sIIQ32s", data)
    der_size = len(_crl(pki, [5, 6, 7], 1))
    table_offset, der_offset = (56 + meta_length + 7) & ~7, file_length - der_size
    data[table_offset:der_offset] = bytes(der_offset - table_offset)
    data[24:56] = hashlib.sha256(bytes(data[:24]) + bytes(data[56:der_offset])).digest()
    path.write_bytes(bytes(data))
    reader = CRLCache(directory=tmp_path)
    assert reader.load_directory(issuers=[moica]) == 0
    assert reader.get("http://x/crl", moica.subject_key_identifier, NOW) is None


def test_without_a_key_or_issuer_nothing_is_trusted(
    pki: FakeGPKI, moica: TaiwanCertificate, tmp_path: Path
) -> None:
    CRLCache(directory=tmp_path).preload(_crl(pki, [5], 1), moica, url="http://x/crl")
    assert CRLCache(directory=tmp_path).load_directory() == 0
    other = load_certificate(pki.gca.der)
    assert CRLCache(directory=tmp_path).load_directory(issuers=[other]) == 0
    assert CRLCache(directory=tmp_path).load_directory(issuers=[other, moica]) == 1


@pytest.mark.parametrize("mode", [0o770, 0o757, 0o702])
def test_a_directory_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    shared = tmp_path / "crls"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(UnsafeDirectoryError) as info:
        CRLCache(directory=shared)
    assert info.value.code == "UNSAFE_DIRECTORY"
    assert str(shared) in info.value.message_english and "writable by group or others" in str(info.value)
    assert f"chmod 700 {shared}" in info.value.action_english


def test_a_directory_of_another_user_or_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(UnsafeDirectoryError, match="symbolic link"):
        CRLCache(directory=link)
    if os.geteuid() != 0:
        pytest.skip("changing a directory's owner needs root")
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 4242, 4242)
    with pytest.raises(UnsafeDirectoryError, match="owned by uid 4242") as info:
        CRLCache(directory=foreign)
    assert f"chown <service user> {foreign}" in info.value.action_english


def test_planted_symlinks_are_never_followed(pki: FakeGPKI, moica: TaiwanCertificate, tmp_path: Path) -> None:
    import hashlib

    url = "http://x/crl"
    shared = tmp_path / "crls"
    shared.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    stem = hashlib.sha256(url.encode()).hexdigest()[:32]
    # Every name a writer might use: the index, a sidecar, the sidecar's old fixed temporary.
    for name in (f"{stem}.json.tmp", f"{stem}.json", f"{stem}.seen"):
        (shared / name).symlink_to(victim)
    CRLCache(directory=shared, key=KEY).preload(_crl(pki, [5], 1), moica, url=url)
    assert victim.read_bytes() == b"precious"
    index_path = shared / f"{stem}.crlidx"
    assert index_path.is_file() and not index_path.is_symlink()
    # A symlink in place of the index is not opened either.
    index_path.rename(tmp_path / "elsewhere.crlidx")
    index_path.symlink_to(tmp_path / "elsewhere.crlidx")
    assert CRLCache(directory=shared, key=KEY).load_directory() == 0


# --------------------------------------------------------------------------- stalled downloads


def test_a_stalled_refresh_never_holds_up_a_login_with_a_fresh_crl(
    pki: FakeGPKI, moica: TaiwanCertificate
) -> None:
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:  # answers a byte a second, for a minute
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n")
            for _ in range(60):
                if stop.wait(1.0):
                    return
                conn.sendall(b"x")

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/moica.crl"
    cache = CRLCache(timeout=3.0)
    cache.preload(_crl(pki, [5], 1), moica, url=url)
    refresh_error: list[BaseException] = []

    def refresh() -> None:
        try:
            cache.fetch(url, moica, NOW, force=True)
        except BaseException as exc:
            refresh_error.append(exc)

    refresher = threading.Thread(target=refresh, daemon=True)
    try:
        refresher.start()
        time.sleep(0.5)  # the refresh holds the URL's lock now
        started = time.monotonic()
        index = cache.fetch(url, moica, NOW)  # a login: the cached CRL is fresh
        assert index.crl_number == 1 and 5 in index
        assert time.monotonic() - started < 1.0  # served at once, not after the download
        refresher.join(30)
        assert not refresher.is_alive()
        assert refresh_error and "deadline" in str(refresh_error[0])
        assert cache.get(url, moica.subject_key_identifier, NOW) is index  # still answers
    finally:
        stop.set()
        listener.close()
        server.join(5)


def test_a_login_waits_for_another_download_no_longer_than_the_deadline(
    pki: FakeGPKI, moica: TaiwanCertificate
) -> None:
    import threading

    url = "http://127.0.0.1:9/held.crl"
    cache = CRLCache(timeout=1.0)
    with cache._lock:
        lock = cache._url_locks.setdefault(url, threading.Lock())
    with lock:  # a download of the URL that never ends
        started = time.monotonic()
        with pytest.raises(FetchError, match="still running"):
            cache.fetch(url, moica, NOW)
        assert time.monotonic() - started < 10
