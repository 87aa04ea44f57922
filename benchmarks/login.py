"""A whole login — ``LoginService.complete`` — against the same-run floor.

    python benchmarks/login.py [--entries 1000000] [--logins 2000] [--postgres URL | --no-postgres]
                               [--redis URL | --no-redis]

Set-up: SQLite stores in a temporary file (WAL) — and the same on PostgreSQL in a throw-away
schema (over loopback TCP, as a deployment's shared stores), and PostgreSQL with the challenges
and the PIN record on Redis (throw-away key prefix) — the citizen already bound to an account (the
"later login, PIN only" case of the manual), the issuing CA's CRL of ``--entries`` serials
indexed. Each measured login issues a challenge, signs it as the card would (outside the timed
region), and times ``complete`` — nonce consumed in SQLite, HiPKI response parsed, signature and
certificate verified, PIN ledger read, binding and personnel read.

The card presents the same certificate at every login: :func:`twcert.load_certificate`
remembers the last few it parsed, and the validator the CA signatures it verified. The last row
clears both before each login (a card's first login, or one that has since left the caches).

The floor is the least any correct login costs: parse the leaf and two RSA-2048 verifications
(the CA's signature on the leaf, the card's signature over the challenge).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import fmt, machine, per_call

from twcert import LoginService, LoginStores, load_certificate
from twcert.agency import AgencyResolver
from twcert.audit import MemoryAuditSink
from twcert.binding import Binding, binding_key
from twcert.certificate import _load_cached
from twcert.personnel import Person
from twcert.pin import PinRecord
from twcert.revocation import CARevocation, CRLCache, RevocationChecker
from twcert.stores.sql import SqlStores
from twcert.testing import build_crl, random_serials
from twcert.testing.fixtures import FixtureSet
from twcert.validation import Validator

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "https://jobs.example.gov.tw"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "TWCERT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--redis", default=os.environ.get("TWCERT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()

    fs = FixtureSet.load(ROOT / "fixtures" / "gpki")
    now = fs.now
    moica = fs.pki.cas["MOICA2"]
    issued = fs.issued("citizen-wang")
    card_serial = fs.certificates["citizen-wang"]["card_serial"]
    print(f"machine: {machine()}")
    print(f"CRL of {args.entries:,} entries …", flush=True)
    crl = build_crl(
        moica,
        random_serials(args.entries),
        this_update=now - dt.timedelta(days=1),
        next_update=now + dt.timedelta(days=6),
    )
    gc.collect()  # the builder's million objects must not be scanned inside timed loops
    cache = CRLCache()
    cache.preload(crl, load_certificate(moica.der), url=moica.complete_crl_url)
    validator = Validator(
        fs.pki.trust_store(),
        clock=lambda: now,
        ca_revocation=CARevocation([fs.crl("GRCA2-arl")]),
        checker=RevocationChecker(crls=cache, fetch_on_demand=False),
    )

    certb64 = base64.b64encode(issued.der).decode()

    def response(challenge_tbs: bytes, kind: str) -> dict[str, object]:
        if kind == "PKCS7":
            sig = (
                pkcs7.PKCS7SignatureBuilder()
                .set_data(challenge_tbs)
                .add_signer(issued.certificate, issued.key, hashes.SHA256())
                .sign(serialization.Encoding.DER, [])
            )
        else:
            sig = issued.key.sign(challenge_tbs, padding.PKCS1v15(), hashes.SHA256())
        return {
            "func": "sign",
            "ret_code": 0,
            "last_error": 0,
            "signature": base64.b64encode(sig).decode(),
            "certb64": certb64,
            "cardSN": card_serial,
        }

    def measure(
        stores: SqlStores, label: str, redis_url: str | None = None, *, one_call_per_store: bool = False
    ) -> None:
        stores.personnel.upsert([Person("wang.xm", "A123456789", "王小明", True, "A09000000E")])
        cert = load_certificate(issued.der)
        stores.bindings.bind(Binding(binding_key(cert), "wang.xm", now, cert.sha256))
        nonces: Any = stores.nonces
        pins: Any = stores.pin_counters
        if redis_url is not None:
            from twcert.stores.redis import RedisNonceStore, RedisPinCounterStore

            prefix = f"twcert-bench:{uuid.uuid4().hex}:"
            nonces, pins = (
                RedisNonceStore(redis_url, prefix=prefix),
                RedisPinCounterStore(redis_url, prefix=prefix),
            )
        personnel: Any = stores.personnel
        bindings: Any = stores.bindings
        agencies: Any = stores.agencies
        if one_call_per_store:  # the path before LoginReads, for the same-run comparison
            nonces, pins, personnel, bindings, agencies = map(
                _OneCallPerStore, (nonces, pins, personnel, bindings, agencies)
            )
        service = LoginService(
            validator,
            LoginStores(
                nonces,
                personnel,
                bindings,
                AgencyResolver(agencies),
                PinRecord(pins),
            ),
            audit=MemoryAuditSink(),
            clock=lambda: now,
        )
        kinds = (
            (("PKCS1", True),) if one_call_per_store else (("PKCS1", True), ("PKCS7", True), ("PKCS1", False))
        )
        for kind, cached in kinds:
            prepared = []
            for _ in range(args.logins):
                challenge = service.issue_challenge("bench-session", ORIGIN)
                prepared.append((challenge.id, response(challenge.tbs, kind)))
            samples, cpu = [], []
            for challenge_id, resp in prepared:
                if not cached:  # a card's first login: certificate parsed, CA signature verified
                    _load_cached.cache_clear()
                    validator._verified.clear()
                start, start_cpu = time.perf_counter(), time.thread_time()
                principal = service.complete(challenge_id, resp, session_id="bench-session", origin=ORIGIN)
                cpu.append(time.thread_time() - start_cpu)
                samples.append(time.perf_counter() - start)
            assert principal.account == "wang.xm"
            name = f"{label} stores, HiPKI {kind}" + ("" if cached else ", certificate not cached")
            results[name] = statistics.median(samples)
            cpu_results[name] = statistics.median(cpu)
        if redis_url is not None:
            _drop_redis_keys(nonces.client, prefix)

    def database_floor(stores: SqlStores) -> None:
        """What PostgreSQL alone costs a login here: one round trip, and the durable consume."""
        connection, _ = stores.nonces._connections.get()

        def round_trip() -> None:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()

        floors["PostgreSQL: one round trip (SELECT 1)"] = per_call(round_trip)
        ids = [service_free_challenge(stores) for _ in range(args.logins)]
        samples, cpu = [], []
        for challenge_id in ids:
            start, start_cpu = time.perf_counter(), time.thread_time()
            stores.nonces.consume(challenge_id, now)
            cpu.append(time.thread_time() - start_cpu)
            samples.append(time.perf_counter() - start)
        name = "PostgreSQL: consuming a challenge alone (durable commit)"
        floors[name] = statistics.median(samples)
        cpu_results[name] = statistics.median(cpu)

    def service_free_challenge(stores: SqlStores) -> str:
        from twcert.challenge import issue_challenge

        challenge = issue_challenge("bench-session", ORIGIN, now)
        stores.nonces.put(challenge)
        return challenge.id

    floors: dict[str, float] = {}
    results: dict[str, float] = {}
    #: This thread's CPU time per login: the library's own work, without the time spent
    #: waiting for the database server (another process on the same 2 cores) to answer.
    cpu_results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = SqlStores(f"sqlite:///{tmp}/login.db")
        try:
            measure(stores, "SQLite")
        finally:
            stores.dispose()
    if not args.no_postgres:
        with _postgres_schema(args.postgres) as schema:
            stores = SqlStores(args.postgres, schema=schema)
            try:
                measure(stores, "PostgreSQL")
                measure(stores, "PostgreSQL, one call per store (the path before)", one_call_per_store=True)
                database_floor(stores)
                if not args.no_redis:
                    measure(stores, "PostgreSQL + Redis (challenges, PIN record)", args.redis)
            finally:
                stores.dispose()

    leaf_der = issued.der
    challenge = b"x" * 80
    card_sig = issued.key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
    ca_public = moica.certificate.public_key()

    def floor() -> None:
        leaf = x509.load_der_x509_certificate(leaf_der)
        key = leaf.public_key()
        ca_public.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]
        key.verify(card_sig, challenge, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]

    t_floor = per_call(floor)
    print(f"\nCRL entries: {args.entries:,}; logins measured per kind: {args.logins:,} (median)")
    cpu_results["floor: parse leaf + 2 RSA-2048 verifies"] = t_floor
    rows = [("floor: parse leaf + 2 RSA-2048 verifies", t_floor)]
    rows += [(f"LoginService.complete, {kind}", seconds) for kind, seconds in results.items()]
    rows += list(floors.items())
    width = max(len(name) for name, _ in rows)
    print("(wall: elapsed, median; CPU: this thread's CPU time, median — the library's own work)")
    print(f"{'measure':{width}s} {'wall':>10s} {'per second':>11s} {'of floor':>9s} {'CPU':>10s}")
    for name, seconds in rows:
        key = name.removeprefix("LoginService.complete, ")
        shown = cpu_results.get(key)
        cpu_text = fmt(shown) if shown is not None else "—"
        print(
            f"{name:{width}s} {fmt(seconds):>10s} {1 / seconds:>11,.0f} {t_floor / seconds:>9.0%} {cpu_text:>10s}"
        )


class _OneCallPerStore:
    """A store as seen by a login that cannot batch: everything but ``prefetch``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "prefetch":
            raise AttributeError(name)
        return getattr(self._inner, name)


def _drop_redis_keys(client: Any, prefix: str) -> None:
    """Remove the run's keys (the Redis database may be shared with tests)."""
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


class _postgres_schema:
    """A throw-away schema, dropped afterwards (the database may be shared with tests)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        self.name = f"bench_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *_exc: object) -> None:
        with self.engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        self.engine.dispose()


if __name__ == "__main__":
    main()
