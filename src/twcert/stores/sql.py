"""SQL stores with SQLAlchemy Core: an SQLite file (the embedded default) or PostgreSQL.

Atomicity comes from single statements, never read-then-write in Python:

* consuming a challenge is ``UPDATE … SET used_at = :now WHERE id = :id AND used_at IS NULL
  RETURNING …`` — exactly one of N racing workers gets the row;
* a PIN failure is ``INSERT … ON CONFLICT (card) DO UPDATE SET failures = failures + 1
  RETURNING failures`` — no count is lost;
* a binding is ``INSERT … ON CONFLICT DO NOTHING`` followed by a read — never two bindings;
* a login's PIN-record clearing and its reads (binding with person, or agencies) are one
  statement (:class:`~twcert.login.LoginReads`): with the consume, two round trips on PostgreSQL.

SQLite runs in WAL mode with a busy timeout so several worker processes can share the file.
Times are stored as integer microseconds since the epoch (UTC), the same on both databases.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    create_engine,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import AssertionPool, SingletonThreadPool, StaticPool

from ..agency.directory import Agency, normalize_agency_name
from ..binding import Binding
from ..challenge import DEFAULT_SKEW, Challenge, ConsumeResult
from ..errors import BackendUnavailableError
from ..idnumber import normalize
from ..personnel import Person
from .sqlsetup import create_tables, enable_sqlite_wal

if TYPE_CHECKING:
    from ..login import LoginFacts, LoginQuery, LoginStores

__all__ = [
    "DEFAULT_SQLITE_URL",
    "SqlAgencyDirectory",
    "SqlBindingStore",
    "SqlNonceStore",
    "SqlPersonnelDirectory",
    "SqlPinCounterStore",
    "SqlStores",
    "make_engine",
]

#: The embedded default: a file in the working directory.
DEFAULT_SQLITE_URL = "sqlite:///twcert.db"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def _dt(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def make_engine(url: str) -> Engine:
    """An engine tuned for the stores (SQLite: WAL, busy timeout, no thread check)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            # NORMAL: durable across application crashes; a power loss may lose the last
            # commits, which for nonces and counters only errs towards refusing a login.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            enable_sqlite_wal(dbapi_connection)

        return engine
    return create_engine(url, pool_pre_ping=True)


def _tables(metadata: MetaData, schema: str | None) -> dict[str, Table]:
    return {
        "challenges": Table(
            "twcert_challenges", metadata,
            Column("id", String(64), primary_key=True),
            Column("nonce", LargeBinary(64), nullable=False),
            Column("session_hash", String(64), nullable=False),
            Column("origin", String(512), nullable=False),
            Column("issued_at", BigInteger, nullable=False),
            Column("expires_at", BigInteger, nullable=False, index=True),
            Column("used_at", BigInteger, nullable=True),
            schema=schema,
        ),
        "pin": Table(
            "twcert_pin_failures", metadata,
            Column("card", String(64), primary_key=True),
            Column("failures", Integer, nullable=False),
            Column("updated_at", BigInteger, nullable=False),
            schema=schema,
        ),
        "bindings": Table(
            "twcert_bindings", metadata,
            Column("identity", String(200), primary_key=True),
            Column("account", String(200), nullable=False, index=True),
            Column("bound_at", BigInteger, nullable=False),
            Column("certificate_sha256", String(64), nullable=False),
            schema=schema,
        ),
        "personnel": Table(
            "twcert_personnel", metadata,
            Column("account", String(200), primary_key=True),
            Column("national_id", String(20), nullable=False, unique=True),
            Column("name", String(200), nullable=False),
            Column("in_service", Boolean, nullable=False),
            Column("agency_code", String(20), nullable=True),
            schema=schema,
        ),
        "agencies": Table(
            "twcert_agencies", metadata,
            Column("code", String(20), primary_key=True),
            Column("name", String(200), nullable=False),
            Column("name_key", String(200), nullable=False, index=True),
            *(Column(name, String(500), nullable=False, default="") for name in _AGENCY_TEXT),
            schema=schema,
        ),
    }  # fmt: skip


_AGENCY_TEXT = (
    "english_name", "postal_code", "address", "phone", "parent_code", "parent_name", "fax", "effective_date",
    "abolished_date", "level", "abolished_flag", "successor_code", "successor_name",
)  # fmt: skip


class _Prepared:
    """A statement compiled once for the engine's dialect, run on the driver connection."""

    __slots__ = ("defaults", "needs_commit", "order", "positional", "returns_rows", "sql")

    def __init__(self, engine: Engine, statement: Any) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        self.order: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Literal values in the statement (e.g. ``failures + 1``) compile to anonymous binds.
        self.defaults: dict[str, Any] = dict(compiled.params)
        self.returns_rows = bool(getattr(statement, "_returning", None)) or statement.is_select
        # sqlite3 opens no transaction for a SELECT, so there is nothing to commit; other
        # drivers (psycopg) begin one implicitly and it must be ended.
        self.needs_commit = not (engine.dialect.name == "sqlite" and statement.is_select)

    def params(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values} if self.defaults else values
        return tuple([merged[name] for name in self.order]) if self.positional else merged


# Driver connections a forked child inherited: it must neither use them (the socket is the
# parent's) nor close them (closing a PostgreSQL connection sends the server a Terminate on
# that shared socket), so they are kept referenced and left alone.
_INHERITED: list[Any] = []


class _ThreadConnections:
    """One pooled driver connection per thread (and per process), shared by the stores of one
    :class:`SqlStores`; on PostgreSQL in autocommit mode.

    Sharing matters on SQLite beyond the connection count: a connection keeps its page cache
    across its own commits but must drop it whenever another connection has written, so with
    one connection per store every read of a login (PIN ledger, binding, personnel) re-read
    its pages after the nonce store's write.

    Autocommit matters on PostgreSQL: every statement of the stores but one (a binding's
    insert-then-read) is atomic alone, and outside autocommit the driver wraps even a single
    read in ``BEGIN`` … ``COMMIT``, three round trips instead of one. The connection goes back
    to the pool (when its thread ends, or after an error) in the mode it was lent in: a checkin
    listener restores it, so code the pool serves next still opens transactions. SQLite keeps
    the driver's transactional mode: autocommit saves ~5 µs there, and an in-memory database's
    one pooled connection is shared with SQLAlchemy's own use in the same thread.
    """

    _live: weakref.WeakSet[_ThreadConnections] = weakref.WeakSet()

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._live.add(self)
        if not event.contains(engine, "checkin", _restore_mode):
            event.listen(engine, "checkin", _restore_mode)

    def get(self) -> tuple[Any, bool]:
        """This thread's connection and whether it is in autocommit mode."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or local.conn is None:
            if getattr(local, "conn", None) is not None:  # forked without the at-fork hook
                self._leave_the_parent_s()
            conn = self.engine.raw_connection()
            local.autocommit = _autocommit(self.engine, conn)
            local.conn = conn
            local.pid = os.getpid()
        return local.conn, local.autocommit

    def discard(self) -> None:
        """Drop this thread's connection after a database error (the next call reconnects)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()

    def _leave_the_parent_s(self) -> None:
        """In a forked child: set the parent's connection aside and start a new pool."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            _INHERITED.append(conn)
            self._local.conn = None
        # SQLAlchemy's advice for a forked child: a new pool, the parent's left unclosed.
        self.engine.dispose(close=False)

    @classmethod
    def _after_fork_in_child(cls) -> None:
        for connections in list(cls._live):
            connections._leave_the_parent_s()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ThreadConnections._after_fork_in_child)

# Where a connection lent in autocommit keeps the mode to give back (the pool record's info).
_LENT_MODE = "twcert_autocommit_was"
# Pools that give one thread (or every thread) the same connection each time: the stores'
# connection is then also the one SQLAlchemy code in that thread gets, so its mode stays.
_SHARING_POOLS = (SingletonThreadPool, StaticPool, AssertionPool)


def _autocommit(engine: Engine, conn: Any) -> bool:
    """Switch a PostgreSQL connection just lent by the pool to autocommit; True if done."""
    driver = conn.dbapi_connection
    if (
        engine.dialect.name != "postgresql"
        or isinstance(engine.pool, _SHARING_POOLS)
        or not hasattr(driver, "autocommit")  # psycopg, psycopg2 and pg8000 have it
    ):
        return False
    with contextlib.suppress(Exception):
        driver.rollback()  # a pre-ping may have opened a transaction; the switch needs none
    conn.info[_LENT_MODE] = driver.autocommit
    driver.autocommit = True
    _durable_commits(driver)
    return True


def _durable_commits(driver: Any) -> None:
    """Never a weaker commit than the server's default for a consumed challenge.

    A role, database or connection string may set ``synchronous_commit`` to ``off`` (or
    ``local``) for speed; then a commit returns before its WAL is flushed (or replicated), and
    a crash could forget that a challenge was used, letting it be answered twice. On the
    stores' connection it is set back to ``on`` (once per connection, one round trip); the
    stricter replication levels are left as they are.
    """
    cursor = driver.cursor()
    try:
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'on', false) "
            "WHERE current_setting('synchronous_commit') IN ('off', 'local')"
        )
        cursor.fetchall()
    finally:
        cursor.close()


def _restore_mode(dbapi_connection: Any, record: Any) -> None:
    """Pool checkin listener: give the pool back a connection in the mode it lent it."""
    previous = record.info.pop(_LENT_MODE, None) if record is not None else None
    if previous is None or dbapi_connection is None:
        return
    try:
        dbapi_connection.autocommit = previous
    except Exception as exc:  # not idle after the pool's reset: never lend it again
        record.invalidate(exc)


class _Base:
    """Hot statements are compiled once and run on a per-thread driver connection.

    SQLAlchemy Core builds the schema, the dialect-specific SQL (``ON CONFLICT``,
    ``RETURNING``) and the pool; executing through its Connection costs ~90 µs per statement
    against ~5 µs on the driver, and a login runs two to five of them, so the stores keep one
    connection per thread (see :class:`_ThreadConnections`).
    """

    def __init__(self, engine: Engine, table: Table, connections: _ThreadConnections | None = None) -> None:
        self.engine = engine
        self.table = table
        self._connections = connections if connections is not None else _ThreadConnections(engine)
        #: Set by :class:`SqlStores`: a login's reads over its sibling stores at once.
        self.login_reads: _LoginReads | None = None
        self._prepare()

    def prefetch(self, stores: LoginStores, query: LoginQuery) -> LoginFacts | None:
        """:class:`~twcert.login.LoginReads`: a login's PIN-record change and reads in one go,
        when the stores ``query`` touches are all of this store's :class:`SqlStores`."""
        reads = self.login_reads
        return reads.prefetch(stores, query) if reads is not None else None

    def _prepare(self) -> None:
        """Compile this store's statements."""

    def _compile(self, statement: Any) -> _Prepared:
        return _Prepared(self.engine, statement)

    def _insert(self) -> Any:
        """The dialect's INSERT (with ON CONFLICT support)."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(self.table)
        return sqlite.insert(self.table)

    def _run(self, statements: Sequence[tuple[_Prepared, Mapping[str, Any]]]) -> list[list[tuple[Any, ...]]]:
        """Run statements in one transaction; return each one's rows.

        In autocommit mode one statement runs alone (it is atomic by itself) and several run
        between explicit ``BEGIN`` and ``COMMIT``, sent as statements because some drivers
        (psycopg2) ignore ``commit()`` in autocommit mode.
        """
        try:
            conn, autocommit = self._connections.get()
            cursor = conn.cursor()
            explicit = autocommit and len(statements) > 1
            try:
                if explicit:
                    cursor.execute("BEGIN")
                results = []
                commit = False
                for prepared, values in statements:
                    cursor.execute(prepared.sql, prepared.params(values))
                    results.append([tuple(row) for row in cursor.fetchall()] if prepared.returns_rows else [])
                    commit = commit or prepared.needs_commit
                if explicit:
                    cursor.execute("COMMIT")
                elif commit and not autocommit:
                    conn.commit()
                return results
            except BaseException:
                with contextlib.suppress(Exception):
                    if explicit:
                        cursor.execute("ROLLBACK")
                    elif not autocommit:
                        conn.rollback()
                raise
            finally:
                cursor.close()
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            self._connections.discard()
            raise BackendUnavailableError(f"database: {type(exc).__name__}: {str(exc)[:200]}") from exc

    def _one(self, prepared: _Prepared, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self._run([(prepared, values)])[0]
        return rows[0] if rows else None


def _guard(fn: Any) -> Any:
    """Database failures surface as the catalogued BackendUnavailableError."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise BackendUnavailableError(f"database: {type(exc).__name__}: {str(exc)[:200]}") from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


_CHALLENGE_COLUMNS = ("nonce", "session_hash", "origin", "issued_at", "expires_at")


class SqlNonceStore(_Base):
    def _prepare(self) -> None:
        t = self.table
        columns = [t.c[name] for name in _CHALLENGE_COLUMNS]
        self._put = self._compile(t.insert().values({c: bindparam(c) for c in ("id", *_CHALLENGE_COLUMNS)}))
        self._consume = self._compile(
            update(t)
            .where(and_(t.c.id == bindparam("cid"), t.c.used_at.is_(None)))
            .values(used_at=bindparam("now"))
            .returning(*columns)
        )
        self._lookup = self._compile(select(*columns).where(t.c.id == bindparam("cid")))
        self._purge = self._compile(t.delete().where(t.c.expires_at < bindparam("before")))
        #: How long past its expiry a challenge (and that it was used) is kept.
        self.skew = DEFAULT_SKEW
        #: Every this many puts (per process), the put also deletes challenges kept long enough.
        self.purge_every = 256
        self._puts = 0

    def put(self, challenge: Challenge) -> None:
        statements: list[tuple[_Prepared, Mapping[str, Any]]] = [(self._put, {
            "id": challenge.id,
            "nonce": challenge.nonce,
            "session_hash": challenge.session_hash,
            "origin": challenge.origin,
            "issued_at": _us(challenge.issued_at),
            "expires_at": _us(challenge.expires_at),
        })]  # fmt: skip
        self._puts += 1
        if self._puts % self.purge_every == 0:
            # Opportunistic purge, in the put's own transaction: anonymous challenge requests
            # cannot pile rows up, and no scheduler is needed.
            statements.append((self._purge, {"before": _us(challenge.issued_at - self.skew)}))
        self._run(statements)

    def consume(self, challenge_id: str, now: dt.datetime) -> ConsumeResult:
        row = self._one(self._consume, {"cid": challenge_id, "now": _us(now)})
        if row is not None:
            return ConsumeResult(self._challenge(challenge_id, row), "ok")
        row = self._one(self._lookup, {"cid": challenge_id})
        if row is None:
            return ConsumeResult(None, "unknown")
        return ConsumeResult(self._challenge(challenge_id, row), "used")

    @staticmethod
    def _challenge(challenge_id: str, row: Any) -> Challenge:
        nonce, session_hash, origin, issued_at, expires_at = row
        return Challenge(challenge_id, bytes(nonce), session_hash, origin, _dt(issued_at), _dt(expires_at))

    @_guard
    def purge(self, now: dt.datetime) -> int:
        """Delete challenges kept past :func:`~twcert.challenge.retained_until` at ``now``."""
        with self.engine.begin() as conn:
            cutoff = _us(now - self.skew)
            result = conn.execute(self.table.delete().where(self.table.c.expires_at < cutoff))
            return int(result.rowcount or 0)


class SqlPinCounterStore(_Base):
    def _prepare(self) -> None:
        t = self.table
        self._get = self._compile(select(t.c.failures).where(t.c.card == bindparam("card")))
        self._increment = self._compile(
            self._insert()
            .values(card=bindparam("card"), failures=1, updated_at=bindparam("now"))
            .on_conflict_do_update(
                index_elements=[t.c.card],
                set_={"failures": t.c.failures + 1, "updated_at": bindparam("now")},
            )
            .returning(t.c.failures)
        )
        self._set = self._compile(
            self._insert()
            .values(card=bindparam("card"), failures=bindparam("count"), updated_at=bindparam("now"))
            .on_conflict_do_update(
                index_elements=[t.c.card],
                set_={"failures": bindparam("count"), "updated_at": bindparam("now")},
            )
        )
        self._raise_to = self._compile(
            self._insert()
            .values(card=bindparam("card"), failures=bindparam("count"), updated_at=bindparam("now"))
            .on_conflict_do_update(
                index_elements=[t.c.card],
                set_={
                    "failures": case(
                        (t.c.failures < bindparam("count"), bindparam("count")), else_=t.c.failures
                    ),
                    "updated_at": bindparam("now"),
                },
            )
            .returning(t.c.failures)
        )
        self._reset = self._compile(t.delete().where(t.c.card == bindparam("card")))

    def get(self, key: str) -> int:
        row = self._one(self._get, {"card": key})
        return int(row[0]) if row else 0

    def increment(self, key: str) -> int:
        row = self._one(self._increment, {"card": key, "now": _us(dt.datetime.now(dt.UTC))})
        assert row is not None
        return int(row[0])

    def set(self, key: str, count: int) -> None:
        self._run([(self._set, {"card": key, "count": count, "now": _us(dt.datetime.now(dt.UTC))})])

    def raise_to(self, key: str, count: int) -> int:
        row = self._one(self._raise_to, {"card": key, "count": count, "now": _us(dt.datetime.now(dt.UTC))})
        assert row is not None
        return int(row[0])

    def reset(self, key: str) -> None:
        self._run([(self._reset, {"card": key})])


class SqlBindingStore(_Base):
    def _prepare(self) -> None:
        t = self.table
        columns = (t.c.account, t.c.bound_at, t.c.certificate_sha256)
        self._get = self._compile(select(*columns).where(t.c.identity == bindparam("identity")))
        self._bind = self._compile(
            self._insert()
            .values({c: bindparam(c) for c in ("identity", "account", "bound_at", "certificate_sha256")})
            .on_conflict_do_nothing(index_elements=[t.c.identity])
        )
        self._unbind = self._compile(
            t.delete().where(t.c.identity == bindparam("identity")).returning(t.c.account)
        )
        self._for_account = self._compile(
            select(t.c.identity, *columns)
            .where(t.c.account == bindparam("account"))
            .order_by(t.c.bound_at, t.c.identity)
        )

    def get(self, identity: str) -> Binding | None:
        row = self._one(self._get, {"identity": identity})
        if row is None:
            return None
        return Binding(identity, row[0], _dt(row[1]), row[2])

    def bind(self, binding: Binding) -> Binding:
        values = {
            "identity": binding.identity,
            "account": binding.account,
            "bound_at": _us(binding.bound_at),
            "certificate_sha256": binding.certificate_sha256,
        }
        # Insert-if-absent and read back in one transaction: the reader sees the winner.
        rows = self._run([(self._bind, values), (self._get, {"identity": binding.identity})])[1]
        account, bound_at, sha256 = rows[0]
        return Binding(binding.identity, account, _dt(bound_at), sha256)

    def unbind(self, identity: str) -> bool:
        return bool(self._run([(self._unbind, {"identity": identity})])[0])

    def for_account(self, account: str) -> list[Binding]:
        rows = self._run([(self._for_account, {"account": account})])[0]
        return [Binding(identity, acc, _dt(bound_at), sha) for identity, acc, bound_at, sha in rows]


_PERSON_COLUMNS = ("account", "national_id", "name", "in_service", "agency_code")


class SqlPersonnelDirectory(_Base):
    def _prepare(self) -> None:
        t = self.table
        columns = [t.c[name] for name in _PERSON_COLUMNS]
        self._get = self._compile(select(*columns).where(t.c.account == bindparam("account")))
        self._find = self._compile(
            select(*columns).where(or_(t.c.account == bindparam("text"), t.c.national_id == bindparam("nid")))
        )

    @staticmethod
    def _person(row: Sequence[Any]) -> Person:
        account, national_id, name, in_service, agency_code = row
        return Person(account, national_id, name, bool(in_service), agency_code)

    def get(self, account: str) -> Person | None:
        row = self._one(self._get, {"account": account})
        return self._person(row) if row is not None else None

    def find(self, account_or_id: str) -> Person | None:
        text = account_or_id.strip()
        rows = self._run([(self._find, {"text": text, "nid": normalize(text)})])[0]
        # An account match wins over an ID match (an account could look like an ID).
        rows.sort(key=lambda r: r[0] != text)
        return self._person(rows[0]) if rows else None

    @_guard
    def upsert(self, people: Iterable[Person]) -> int:
        count = 0
        with self.engine.begin() as conn:
            for person in people:
                values = {
                    "account": person.account,
                    "national_id": normalize(person.national_id),
                    "name": person.name,
                    "in_service": person.in_service,
                    "agency_code": person.agency_code,
                }
                stmt = self._insert().values(**values)
                stmt = stmt.on_conflict_do_update(index_elements=[self.table.c.account], set_=values)
                conn.execute(stmt)
                count += 1
        return count


class SqlAgencyDirectory(_Base):
    def _prepare(self) -> None:
        t = self.table
        columns = [t.c.code, t.c.name, *(t.c[name] for name in _AGENCY_TEXT)]
        self._get = self._compile(select(*columns).where(t.c.code == bindparam("code")))
        self._by_name = self._compile(
            select(*columns).where(t.c.name_key == bindparam("name_key")).order_by(t.c.code)
        )

    @staticmethod
    def _agency(row: Sequence[Any]) -> Agency:
        return Agency(row[0], row[1], **dict(zip(_AGENCY_TEXT, row[2:], strict=True)))

    def get(self, code: str) -> Agency | None:
        row = self._one(self._get, {"code": code.strip().upper()})
        return self._agency(row) if row is not None else None

    def find_by_name(self, name: str) -> list[Agency]:
        rows = self._run([(self._by_name, {"name_key": normalize_agency_name(name)})])[0]
        return [self._agency(r) for r in rows]

    @_guard
    def upsert(self, agencies: Iterable[Agency]) -> int:
        count = 0
        with self.engine.begin() as conn:
            for agency in agencies:
                values = {
                    "code": agency.code,
                    "name": agency.name,
                    "name_key": normalize_agency_name(agency.name),
                }
                values.update({name: getattr(agency, name) for name in _AGENCY_TEXT})
                stmt = self._insert().values(**values)
                stmt = stmt.on_conflict_do_update(index_elements=[self.table.c.code], set_=values)
                conn.execute(stmt)
                count += 1
        return count

    @_guard
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())


class _LoginReads:
    """:class:`~twcert.login.LoginReads` over the stores of one :class:`SqlStores`.

    One statement clears the PIN record and reads a citizen's binding with its person, or an
    agency card's agencies. On PostgreSQL the clearing is a ``DELETE`` in a ``WITH`` clause of
    that ``SELECT``, so the whole is one round trip and atomic (autocommit); a ``DELETE`` that
    finds no row writes nothing and so commits without a flush. SQLite has no data-modifying
    ``WITH``: there the record is read with the rest and cleared only where it had a run,
    as :meth:`~twcert.pin.PinRecord.clear` does (a write transaction only when needed).
    """

    def __init__(self, owner: SqlStores) -> None:
        self.owner = owner
        pin, bindings = owner.pin_counters, owner.bindings
        people, agencies = owner.personnel, owner.agencies
        self._pg = owner.engine.dialect.name == "postgresql"
        p, b, h, a = pin.table, bindings.table, people.table, agencies.table
        keys: list[Any] = [bindparam("k0"), bindparam("k1")]
        person_columns = [h.c[name] for name in _PERSON_COLUMNS]
        agency_columns = [a.c.code, a.c.name, *(a.c[name] for name in _AGENCY_TEXT)]
        citizen = (
            select(b.c.account, b.c.bound_at, b.c.certificate_sha256, *person_columns)
            .select_from(b.outerjoin(h, h.c.account == b.c.account))
            .where(b.c.identity == bindparam("identity"))
        )
        agency = select(*agency_columns).where(
            or_(a.c.code.in_([bindparam("c0"), bindparam("c1")]), a.c.name_key == bindparam("name_key"))
        )
        if self._pg:
            cleared = p.delete().where(p.c.card.in_(keys)).returning(p.c.card).cte("cleared")
            self._citizen = pin._compile(citizen.add_cte(cleared))
            self._agency = pin._compile(agency.add_cte(cleared))
            self._clear_only = pin._compile(p.delete().where(p.c.card.in_(keys)))
        else:
            self._pins = pin._compile(select(p.c.card).where(p.c.card.in_(keys), p.c.failures > 0))
            self._citizen = pin._compile(citizen)
            self._agency = pin._compile(agency)
            self._reset = pin._compile(p.delete().where(p.c.card.in_(keys)))

    def _serves(self, stores: LoginStores, query: LoginQuery) -> bool:
        """Whether every store ``query`` touches is one of this :class:`SqlStores` (the others,
        e.g. challenges on Redis, are none of this statement's business)."""
        owner = self.owner
        record, agencies = stores.pin_record, stores.agencies
        if query.clear_pin and (record is None or record.store is not owner.pin_counters):
            return False
        if query.identity is not None and (
            stores.bindings is not owner.bindings or stores.personnel is not owner.personnel
        ):
            return False
        agency_asked = bool(query.agency_codes) or query.agency_name is not None
        return not agency_asked or (agencies is not None and agencies.directory is owner.agencies)

    def prefetch(self, stores: LoginStores, query: LoginQuery) -> LoginFacts | None:
        from ..login import LoginFacts  # the login module imports no store; no cycle at import

        if not self._serves(stores, query) or len(query.clear_pin) > 2 or len(query.agency_codes) > 2:
            return None
        keys: dict[str, str | None] = {"k0": None, "k1": None}
        keys.update(zip(("k0", "k1"), query.clear_pin, strict=False))
        if query.identity is not None:
            values: dict[str, str | None] = {**keys, "identity": query.identity}
            statement: _Prepared | None = self._citizen
        elif query.agency_codes or query.agency_name is not None:
            codes = dict(zip(("c0", "c1"), (c.strip().upper() for c in query.agency_codes), strict=False))
            name_key = normalize_agency_name(query.agency_name) if query.agency_name is not None else None
            statement, values = self._agency, {"c0": None, "c1": None, **codes, **keys, "name_key": name_key}
        elif self._pg:
            statement, values = self._clear_only, keys
        else:
            statement, values = None, keys
        if self._pg:
            assert statement is not None
            rows = self.owner.pin_counters._run([(statement, values)])[0]
        else:
            ran = [(self._pins, keys)] + ([(statement, values)] if statement is not None else [])
            found = self.owner.pin_counters._run(ran)
            if found[0]:
                self.owner.pin_counters._run([(self._reset, keys)])
            rows = found[1] if statement is not None else []
        if query.identity is not None:
            if not rows:
                return LoginFacts()
            account, bound_at, sha256, *person = rows[0]
            binding = Binding(query.identity, account, _dt(bound_at), sha256)
            known = SqlPersonnelDirectory._person(person) if person[0] is not None else None
            return LoginFacts(binding, known)
        return LoginFacts(agencies=tuple(SqlAgencyDirectory._agency(row) for row in rows))


class SqlStores:
    """All SQL stores over one database.

    :param url: SQLAlchemy URL (``sqlite:///twcert.db`` by default; ``postgresql+psycopg://…``)
        or an existing :class:`~sqlalchemy.Engine`.
    :param schema: PostgreSQL schema to put the tables in (created if missing).
    :param create: create the tables if they do not exist.
    """

    def __init__(
        self, url: str | Engine = DEFAULT_SQLITE_URL, *, schema: str | None = None, create: bool = True
    ):
        self.engine = make_engine(url) if isinstance(url, str) else url
        self.metadata = MetaData()
        tables = _tables(self.metadata, schema)
        if create:
            self._create(schema)
        connections = _ThreadConnections(self.engine)
        self.nonces = SqlNonceStore(self.engine, tables["challenges"], connections)
        self.pin_counters = SqlPinCounterStore(self.engine, tables["pin"], connections)
        self.bindings = SqlBindingStore(self.engine, tables["bindings"], connections)
        self.personnel = SqlPersonnelDirectory(self.engine, tables["personnel"], connections)
        self.agencies = SqlAgencyDirectory(self.engine, tables["agencies"], connections)
        reads = _LoginReads(self)
        for store in (self.nonces, self.pin_counters, self.bindings, self.personnel, self.agencies):
            store.login_reads = reads

    def _create(self, schema: str | None) -> None:
        try:
            create_tables(self.engine, self.metadata, schema=schema)
        except SQLAlchemyError as exc:
            raise BackendUnavailableError(f"database: {type(exc).__name__}: {str(exc)[:200]}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
