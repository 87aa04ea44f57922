"""With ``fetch_on_demand=False`` a login never touches the network, not even for a CA's CRL
(GRCA's ARL): a stale one is a refusal with its own message, and no connection is made."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator

import pytest

from twcert import Validator, load_certificate
from twcert.errors import RevocationUnavailableError
from twcert.revocation import CARevocation, CRLCache, RevocationChecker
from twcert.testing import FakeGPKI, KeyPool, build_crl

DAY = dt.timedelta(days=1)


class Recorder:
    """A loopback listener that only counts the connections made to it."""

    def __init__(self) -> None:
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder() as server:
        yield server


def test_stale_grca_arl_without_fetch_on_demand_refuses_without_connecting(recorder: Recorder) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # Every CDP and AIA of this PKI points at the recorder.
    pki = FakeGPKI(now=now, base_url=recorder.base_url, keys=KeyPool(reuse=True))
    moica = pki.cas["MOICA2"]
    leaf = pki.issue_citizen(
        "王小明", "A123456789", not_before=now - DAY, not_after=now + 365 * DAY, partition=None
    )
    cache = CRLCache()
    cache.preload(
        build_crl(moica, [], this_update=now - DAY, next_update=now + 6 * DAY),
        load_certificate(moica.der),
        url=moica.complete_crl_url,
    )
    stale_arl = build_crl(pki.cas["GRCA2"], [], this_update=now - 20 * DAY, next_update=now - 2 * DAY)
    validator = Validator(
        pki.trust_store(),
        clock=lambda: now,
        checker=RevocationChecker(crls=cache, fetch_on_demand=False),
        ca_revocation=CARevocation([stale_arl]),
    )
    with pytest.raises(RevocationUnavailableError) as info:
        validator.validate(leaf.der)
    assert recorder.connections == 0
    assert "fetch_on_demand=False" in str(info.value)
    # The same login with a fresh ARL passes, still offline.
    fresh_arl = build_crl(pki.cas["GRCA2"], [], this_update=now - DAY, next_update=now + 6 * DAY)
    offline = Validator(
        pki.trust_store(),
        clock=lambda: now,
        checker=RevocationChecker(crls=cache, fetch_on_demand=False),
        ca_revocation=CARevocation([fresh_arl]),
    )
    assert offline.validate(leaf.der).revocation.url == moica.complete_crl_url
    assert recorder.connections == 0
