"""``twcert.revocation.sync``: the CRLs and ARLs a deployment needs, fetched from loopback."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert.errors import CertificateRevokedError, RevocationDataError
from twcert.revocation import CRLCache, FetchError, RevocationChecker
from twcert.revocation.ca_revocation import CARevocation
from twcert.revocation.sync import (
    CA_CRL_SUBDIRECTORY,
    DeadlineFetcher,
    DirectoryFollower,
    load_ca_crls,
    plan,
    read_directory,
    status,
    sync,
)
from twcert.testing.pki import FakeGPKI, KeyPool
from twcert.testing.revocation import build_crl
from twcert.testing.servers import RepositoryServer, free_port
from twcert.trust import TrustStore
from twcert.validation import Validator

DAY = dt.timedelta(days=1)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
LABELS = ("GRCA2", "MOICA2", "GCA")


@pytest.fixture(scope="module")
def server() -> Iterator[RepositoryServer]:
    with RepositoryServer() as running:
        yield running


@pytest.fixture(scope="module")
def gpki(server: RepositoryServer) -> FakeGPKI:
    """A fake GPKI whose CA certificates point at the loopback server (ARL included)."""
    return FakeGPKI(now=NOW, base_url=server.base_url, keys=KeyPool(reuse=True))


@pytest.fixture
def served(server: RepositoryServer, gpki: FakeGPKI) -> Iterator[RepositoryServer]:
    """GRCA2's ARL and MOICA2's complete CRL (two entries), fresh."""
    server.files.clear()
    server.requests.clear()
    server.not_modified.clear()
    server.down = False
    server.files[_path(gpki, "GRCA2")] = build_crl(
        gpki["GRCA2"], [], this_update=NOW - DAY, next_update=NOW + 30 * DAY, crl_number=7
    )
    server.files[_path(gpki, "MOICA2")] = build_crl(
        gpki["MOICA2"], [11, 12], this_update=NOW - DAY, next_update=NOW + 6 * DAY, crl_number=2026
    )
    yield server
    server.files.clear()
    server.down = False


def _path(gpki: FakeGPKI, label: str) -> str:
    return f"/crl/{label}/complete.crl"


def _trust(gpki: FakeGPKI) -> TrustStore:
    return gpki.trust_store(include=LABELS)


def _by_url(results: list) -> dict:  # type: ignore[type-arg]
    return {r.target.url: r for r in results}


def test_plan_names_the_arl_of_every_issuing_ca_once(gpki: FakeGPKI) -> None:
    moica = gpki["MOICA2"].complete_crl_url
    targets = plan(_trust(gpki), urls=[moica], at=NOW)
    arl = gpki["GRCA2"].complete_crl_url
    assert [(t.url, t.kind, t.origin) for t in targets] == [
        (arl, "arl", "ca-certificate"),
        (moica, "crl", "configured"),
    ]
    assert set(targets[0].covers) == {"MOICA G2", "GCA G2"}
    assert targets[0].issuer is not None and targets[0].issuer.der == gpki["GRCA2"].der
    assert targets[1].issuer is None  # learnt from the CRL itself on the first download


def test_plan_leaves_out_the_arl_of_an_expired_ca(gpki: FakeGPKI) -> None:
    trust = gpki.trust_store(include=("GRCA1", "MOICA_EXPIRED"))
    assert plan(trust, at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    assert plan(trust, at=NOW) == []


def test_fresh_sync_stores_everything_and_a_worker_never_downloads(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    arl_url = gpki["GRCA2"].complete_crl_url
    results = _by_url(sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW))
    assert results[arl_url].outcome == "updated"
    assert results[arl_url].crl_number == 7
    assert results[arl_url].downloaded == len(served.files[_path(gpki, "GRCA2")])
    assert (results[moica_url].outcome, results[moica_url].entries) == ("updated", 2)
    assert results[moica_url].crl_number == 2026
    assert load_ca_crls(tmp_path) == [served.files[_path(gpki, "GRCA2")]]
    lines = status(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW + dt.timedelta(hours=1))
    assert [(line.url, line.state, line.entries) for line in lines] == [
        (arl_url, "fresh", 0),
        (moica_url, "fresh", 2),
    ]
    assert lines[1].age == DAY + dt.timedelta(hours=1)
    assert lines[1].issuer == gpki["MOICA2"].name.rfc4514_string()

    # A worker: the shared directory, no download on demand; a whole validation downloads nothing.
    before = sum(served.requests.values())
    crls = CRLCache(directory=tmp_path)
    assert crls.load_directory(issuers=[ca.certificate for ca in _trust(gpki)]) == 2
    checker = RevocationChecker(crls=crls, fetch_on_demand=False)
    validator = Validator(
        _trust(gpki), clock=lambda: NOW, checker=checker, ca_revocation=CARevocation(load_ca_crls(tmp_path))
    )
    good = gpki.issue_citizen("王小明", "A123456789", not_before=NOW - DAY, not_after=NOW + 300 * DAY)
    validator.validate(good.der)
    revoked = gpki.issue_citizen(
        "廢止者", "A123456789", serial=11, not_before=NOW - DAY, not_after=NOW + 300 * DAY
    )
    with pytest.raises(CertificateRevokedError):
        validator.validate(revoked.der)
    assert sum(served.requests.values()) == before


def test_second_sync_is_conditional_and_learns_urls_from_the_directory(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW)
    # No --url now: the MOICA CRL is known from the directory (as after a worker fetched it).
    results = _by_url(sync(tmp_path, _trust(gpki), clock=lambda: NOW))
    assert results[moica_url].target.origin == "learnt"
    assert results[moica_url].outcome == "unchanged"
    assert results[moica_url].downloaded == 0
    assert served.not_modified[_path(gpki, "MOICA2")] == 1
    # A newer CRL at the same address replaces it.
    served.files[_path(gpki, "MOICA2")] = build_crl(
        gpki["MOICA2"], [11, 12, 13], this_update=NOW, next_update=NOW + 7 * DAY, crl_number=2027
    )
    results = _by_url(sync(tmp_path, _trust(gpki), clock=lambda: NOW))
    assert (results[moica_url].outcome, results[moica_url].entries, results[moica_url].crl_number) == (
        "updated",
        3,
        2027,
    )
    assert len(read_directory(tmp_path, _trust(gpki))[moica_url]) == 3


def test_a_crl_learnt_by_a_worker_is_kept_fresh(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    gca_url = gpki["GCA"].complete_crl_url
    served.files[_path(gpki, "GCA")] = build_crl(
        gpki["GCA"], [5], this_update=NOW - DAY, next_update=NOW + DAY
    )
    worker = CRLCache(directory=tmp_path)
    worker.fetch(gca_url, gpki["GCA"].parsed(), NOW)  # a login with on-demand fetching
    results = _by_url(sync(tmp_path, _trust(gpki), clock=lambda: NOW))
    assert results[gca_url].target.origin == "learnt"
    assert results[gca_url].outcome == "unchanged"


def test_stale_crls_are_reported(served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    served.files[_path(gpki, "MOICA2")] = build_crl(
        gpki["MOICA2"], [1], this_update=NOW - 9 * DAY, next_update=NOW - 2 * DAY
    )
    results = _by_url(sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW))
    assert results[moica_url].outcome == "updated"  # stored: the newest there is, and it says so
    states = {line.url: line.state for line in status(tmp_path, _trust(gpki), clock=lambda: NOW)}
    assert states == {gpki["GRCA2"].complete_crl_url: "fresh", moica_url: "stale"}
    # The fresh ARL goes stale too once its nextUpdate is behind the clock.
    later = status(tmp_path, _trust(gpki), clock=lambda: NOW + 31 * DAY)
    assert {line.state for line in later} == {"stale"}


def test_missing_crls_404_and_connection_refused(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    absent = served.url("/crl/NOPE/complete.crl")
    refused = f"http://127.0.0.1:{free_port()}/crl/complete.crl"
    results = _by_url(sync(tmp_path, _trust(gpki), urls=[absent, refused], clock=lambda: NOW))
    assert results[absent].outcome == "failed" and "HTTP 404" in (results[absent].error or "")
    assert results[refused].outcome == "failed" and "refused" in (results[refused].error or "").lower()
    assert results[gpki["GRCA2"].complete_crl_url].outcome == "updated"  # the others went on
    states = {line.url: line.state for line in status(tmp_path, _trust(gpki), urls=[absent, refused])}
    assert states[absent] == states[refused] == "missing"


def test_a_failed_refresh_keeps_the_last_good_crl(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW)
    served.down = True
    results = _by_url(sync(tmp_path, _trust(gpki), clock=lambda: NOW))
    assert {r.outcome for r in results.values()} == {"failed"}
    assert "HTTP 503" in (results[moica_url].error or "")
    served.down = False
    # A wrongly signed CRL never replaces it either.
    served.files[_path(gpki, "MOICA2")] = build_crl(
        gpki["MOICA2"],
        [],
        this_update=NOW,
        next_update=NOW + 7 * DAY,
        crl_number=9999,
        signing_key=gpki["GCA"].key,
    )
    results = _by_url(sync(tmp_path, _trust(gpki), clock=lambda: NOW))
    assert results[moica_url].outcome == "failed"
    assert "signature" in (results[moica_url].error or "").lower()
    assert read_directory(tmp_path, _trust(gpki))[moica_url].crl_number == 2026
    assert {line.state for line in status(tmp_path, _trust(gpki), clock=lambda: NOW)} == {"fresh"}


def test_a_configured_crl_of_an_untrusted_ca_is_refused(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    xca_path = _path(gpki, "XCA")
    served.files[xca_path] = build_crl(gpki["XCA"], [], this_update=NOW, next_update=NOW + DAY)
    results = _by_url(sync(tmp_path, _trust(gpki), urls=[served.url(xca_path)], clock=lambda: NOW))
    assert results[served.url(xca_path)].outcome == "failed"
    assert "not in the trust store" in (results[served.url(xca_path)].error or "")
    assert served.url(xca_path) not in read_directory(tmp_path, _trust(gpki))


@pytest.fixture
def trickle() -> Iterator[str]:
    """A server that sends a CRL's first bytes, then one byte every 50 ms."""
    stop = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100):
                    if stop.is_set():
                        return
                    self.wfile.write(b"\x30")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                return

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/slow.crl"
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()


def test_a_slow_download_stops_at_the_deadline(trickle: str) -> None:
    fetcher = DeadlineFetcher(deadline=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"not finished within 0\.5 s"):
        fetcher.get(trickle, timeout=10.0)  # each byte arrives well within the socket timeout
    assert time.monotonic() - started < 5


def test_a_slow_crl_fails_alone_in_a_sync(
    served: RepositoryServer, gpki: FakeGPKI, trickle: str, tmp_path: Path
) -> None:
    results = _by_url(sync(tmp_path, _trust(gpki), urls=[trickle], deadline=0.3, clock=lambda: NOW))
    assert results[trickle].outcome == "failed"
    assert results[trickle].downloaded > 0
    assert results[gpki["GRCA2"].complete_crl_url].outcome == "updated"


def test_progress_hooks_see_every_byte(served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path) -> None:
    seen: dict[str, list[int]] = {}
    import contextlib

    @contextlib.contextmanager
    def hook(target, fetcher):  # type: ignore[no-untyped-def]
        sizes = seen.setdefault(target.url, [])
        fetcher.on_start = lambda length: sizes.append(-1 if length is None else -length)
        fetcher.on_bytes = sizes.append
        yield

    moica_url = gpki["MOICA2"].complete_crl_url
    sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW, on_target=hook)
    body = served.files[_path(gpki, "MOICA2")]
    assert seen[moica_url][0] == -len(body)
    assert sum(seen[moica_url][1:]) == len(body)


def test_the_arl_copy_is_required_for_a_fresh_status(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    sync(tmp_path, _trust(gpki), clock=lambda: NOW)
    for path in (tmp_path / CA_CRL_SUBDIRECTORY).iterdir():
        path.unlink()
    (line,) = status(tmp_path, _trust(gpki), clock=lambda: NOW)
    assert line.state == "missing" and CA_CRL_SUBDIRECTORY in line.detail
    sync(tmp_path, _trust(gpki), clock=lambda: NOW)  # unchanged index, but the copy is written again
    assert [line.state for line in status(tmp_path, _trust(gpki), clock=lambda: NOW)] == ["fresh"]


def test_a_worker_follows_the_sync_and_never_downloads(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW)
    crls = CRLCache(directory=tmp_path)
    validator = Validator(
        _trust(gpki), clock=lambda: NOW, checker=RevocationChecker(crls=crls, fetch_on_demand=False)
    )
    follower = DirectoryFollower(tmp_path, crls, validator)
    assert follower.reload() == 3  # two indexes and the ARL
    assert follower.reload() == 2  # the indexes are read again; the ARL is not given twice
    card = gpki.issue_citizen(
        "王小明", "A123456789", serial=77, not_before=NOW - DAY, not_after=NOW + 300 * DAY
    )
    validator.validate(card.der)
    # The card is revoked; the next sync publishes it, the follower takes it up.
    served.files[_path(gpki, "MOICA2")] = build_crl(
        gpki["MOICA2"], [11, 12, 77], this_update=NOW, next_update=NOW + 7 * DAY, crl_number=2027
    )
    sync(tmp_path, _trust(gpki), clock=lambda: NOW)
    before = sum(served.requests.values())
    follower.reload()
    with pytest.raises(CertificateRevokedError):
        validator.validate(card.der)
    assert sum(served.requests.values()) == before


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_any_bytes_at_a_configured_url_are_a_revocation_data_error(data: bytes) -> None:
    from twcert.revocation.sync import _issuer_for

    with pytest.raises(RevocationDataError):
        _issuer_for(data, TrustStore.default())


def test_garbage_served_as_a_crl_fails_that_crl_only(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    served.files["/junk.crl"] = b"<html>not a CRL</html>"
    results = _by_url(sync(tmp_path, _trust(gpki), urls=[served.url("/junk.crl")], clock=lambda: NOW))
    assert results[served.url("/junk.crl")].outcome == "failed"
    assert "not a DER CRL" in (results[served.url("/junk.crl")].error or "")
    assert results[gpki["GRCA2"].complete_crl_url].outcome == "updated"


def test_a_lower_crl_number_is_refused_after_a_restart(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    arl_url = gpki["GRCA2"].complete_crl_url
    sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW)
    arl = served.files[_path(gpki, "GRCA2")]
    # A mirror puts back genuine but older lists (each run is a new process: the numbers come
    # from the directory).
    served.files[_path(gpki, "MOICA2")] = build_crl(
        gpki["MOICA2"], [], this_update=NOW, next_update=NOW + 7 * DAY, crl_number=2025
    )
    served.files[_path(gpki, "GRCA2")] = build_crl(
        gpki["GRCA2"], [], this_update=NOW, next_update=NOW + 30 * DAY, crl_number=6
    )
    results = _by_url(sync(tmp_path, _trust(gpki), clock=lambda: NOW))
    for url in (moica_url, arl_url):
        assert results[url].outcome == "failed"
        assert "rollback refused" in (results[url].error or "")
    assert read_directory(tmp_path, _trust(gpki))[moica_url].crl_number == 2026
    assert load_ca_crls(tmp_path) == [arl]  # the Validator's copy is not rolled back either


def test_with_a_key_the_directory_is_read_by_its_hmac_only(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    key = b"deployment secret"
    results = sync(tmp_path, _trust(gpki), urls=[moica_url], key=key, clock=lambda: NOW)
    assert {r.outcome for r in results} == {"updated"}
    assert {line.state for line in status(tmp_path, _trust(gpki), key=key, clock=lambda: NOW)} == {"fresh"}
    # Without the key (or with another) nothing there is trusted: every list reads as missing.
    for other in (None, b"another secret"):
        assert {line.state for line in status(tmp_path, _trust(gpki), urls=[moica_url], key=other)} == {
            "missing"
        }
    assert CRLCache(directory=tmp_path, key=key).load_directory() == 2


def test_without_a_key_a_crl_of_a_ca_outside_the_trust_store_is_not_read(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW)
    only_grca = gpki.trust_store(include=("GRCA2",))
    assert list(read_directory(tmp_path, only_grca)) == [gpki["GRCA2"].complete_crl_url]


def test_the_validator_copy_of_an_arl_must_be_the_stored_one(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    sync(tmp_path, _trust(gpki), clock=lambda: NOW)
    (copy,) = (tmp_path / CA_CRL_SUBDIRECTORY).iterdir()
    copy.write_bytes(build_crl(gpki["GRCA2"], [], this_update=NOW - 2 * DAY, next_update=NOW + DAY))
    (line,) = status(tmp_path, _trust(gpki), clock=lambda: NOW)
    assert line.state == "stale" and "not the stored ARL" in line.detail
    (result,) = sync(tmp_path, _trust(gpki), clock=lambda: NOW)
    assert result.outcome == "updated"  # the copy put right
    assert load_ca_crls(tmp_path) == [served.files[_path(gpki, "GRCA2")]]


def test_arl_copies_are_never_read_through_a_symlink(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    from twcert.errors import UnsafeDirectoryError

    sync(tmp_path, _trust(gpki), clock=lambda: NOW)
    folder = tmp_path / CA_CRL_SUBDIRECTORY
    (copy,) = folder.iterdir()
    outside = tmp_path.parent / f"{tmp_path.name}-outside.crl"
    outside.write_bytes(copy.read_bytes())
    copy.unlink()
    copy.symlink_to(outside)
    assert load_ca_crls(tmp_path) == []  # fail closed: the CA has no ARL
    (line,) = status(tmp_path, _trust(gpki), clock=lambda: NOW)
    assert line.state == "missing"
    sync(tmp_path, _trust(gpki), clock=lambda: NOW)  # replaces the link, never writes through it
    assert not copy.is_symlink() and load_ca_crls(tmp_path) == [outside.read_bytes()]
    # Nor through a FIFO planted under an ARL's name (the read must not hang either).
    copy.unlink()
    os.mkfifo(copy)
    assert load_ca_crls(tmp_path) == []
    folder.chmod(0o777)
    with pytest.raises(UnsafeDirectoryError):
        load_ca_crls(tmp_path)
    folder.chmod(0o700)


def test_a_follower_can_feed_the_validators_ca_revocation(
    served: RepositoryServer, gpki: FakeGPKI, tmp_path: Path
) -> None:
    moica_url = gpki["MOICA2"].complete_crl_url
    sync(tmp_path, _trust(gpki), urls=[moica_url], clock=lambda: NOW)
    crls = CRLCache(directory=tmp_path)
    ca_revocation = CARevocation()
    checker = RevocationChecker(crls=crls, fetch_on_demand=False)
    validator = Validator(_trust(gpki), clock=lambda: NOW, checker=checker, ca_revocation=ca_revocation)
    follower = DirectoryFollower(tmp_path, crls, ca_revocation, trust=_trust(gpki))
    assert follower.reload() == 3
    before = sum(served.requests.values())
    card = gpki.issue_citizen(
        "王小明", "A123456789", serial=11, not_before=NOW - DAY, not_after=NOW + 300 * DAY
    )
    with pytest.raises(CertificateRevokedError):
        validator.validate(card.der)
    assert sum(served.requests.values()) == before
