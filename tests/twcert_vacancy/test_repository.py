"""The repository contract: every backend (memory, SQLite, PostgreSQL) must pass all of it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import multiprocessing
import random
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from twcert_vacancy import (
    Actor,
    Headcount,
    MemoryVacancyRepository,
    OnlineQuery,
    PersonKind,
    RankClass,
    SqlVacancyRepository,
    Vacancy,
    VacancyRepository,
    VacancyRules,
    VacancyStatus,
    ValidityPeriod,
    work_place,
)
from twcert_vacancy.errors import (
    FieldReadOnlyError,
    RankClassError,
    VacancyConflictError,
    VacancyDatabaseMissingError,
    VacancyExistsError,
    VacancyFieldError,
    VacancyInvalidError,
    VacancyNotFoundError,
    VacancyNotOwnerError,
    VacancyQueryError,
    VacancyStorageError,
    VacancyWithdrawnError,
    WorkPlaceError,
)

from .conftest import AGENCY, OTHER_AGENCY, make_vacancy
from .workers import increment_headcount, open_repository

UTC = dt.UTC
AT = dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SYSTEM = Actor(principal_id="feed-import")


# --------------------------------------------------------------------------- writes


def test_add_and_get(repository: Any, owner: Actor) -> None:
    vacancy = make_vacancy(work_places=(work_place(30), work_place(31)), rank_classes=(RankClass.JUNIOR,))
    stored = repository.add(vacancy, owner, at=AT)
    assert stored.revision == 1
    got = repository.get(vacancy.work_id)
    assert got == vacancy and got.revision == 1
    # Every field survives storage, personal ones included (they are only kept out of exports).
    for field in dataclasses.fields(Vacancy):
        if field.name != "revision":
            assert getattr(got, field.name) == getattr(vacancy, field.name), field.name
    with pytest.raises(VacancyNotFoundError):
        repository.get("9999999999")


def test_add_refuses_duplicates_and_other_agencies(repository: Any, owner: Actor, stranger: Actor) -> None:
    repository.add(make_vacancy(), owner, at=AT)
    with pytest.raises(VacancyExistsError):
        repository.add(make_vacancy(title="另一職缺"), owner, at=AT)
    with pytest.raises(VacancyNotOwnerError):
        repository.add(make_vacancy(work_id="1140300002"), stranger, at=AT)
    repository.add(make_vacancy(work_id="1140300003"), SYSTEM, at=AT)  # the feed importer


def test_update_by_owner_appends_audit(repository: Any, owner: Actor) -> None:
    repository.add(make_vacancy(), owner, at=AT)
    later = AT + dt.timedelta(hours=1)
    updated = repository.update(
        "1140300001", owner, {"title": "科長", "headcount": "正取1名，備取2名"}, at=later, expected_revision=1
    )
    assert updated.title == "科長" and updated.headcount == Headcount(1, 2, "正取1名，備取2名")
    assert updated.revision == 2 and repository.get("1140300001") == updated
    history = repository.history("1140300001")
    assert [(r.field, r.old, r.new) for r in history] == [
        ("*created", "", "1140300001"),
        ("title", "科員", "科長"),
        ("headcount", "1", "正取1名，備取2名 (+2)"),
    ]
    assert {r.who for r in history} == {"officer-1"}
    assert history[1].when == later


def test_audit_masks_personal_values(repository: Any, owner: Actor) -> None:
    repository.add(make_vacancy(), owner, at=AT)
    repository.update(
        "1140300001",
        owner,
        {"filler_name": "陳大文", "filler_phone": "0912345678"},
        at=AT,
        expected_revision=1,
    )
    records = {r.field: r for r in repository.history("1140300001")}
    assert records["filler_name"].old == "王*明" and records["filler_name"].new == "陳*文"
    assert "345" not in records["filler_phone"].new and records["filler_phone"].new.startswith("09")


def test_only_the_owning_agency_may_change(repository: Any, owner: Actor, stranger: Actor) -> None:
    repository.add(make_vacancy(), owner, at=AT)
    for actor in (stranger, SYSTEM):
        with pytest.raises(VacancyNotOwnerError) as info:
            repository.update("1140300001", actor, {"title": "x"}, at=AT)
        assert info.value.message == "僅徵才機關得修改或撤銷本職缺。"
        with pytest.raises(VacancyNotOwnerError):
            repository.withdraw("1140300001", actor, at=AT)
    assert repository.get("1140300001").title == "科員"
    assert len(repository.history("1140300001")) == 1


def test_stale_revision_is_a_conflict(repository: Any, owner: Actor) -> None:
    repository.add(make_vacancy(), owner, at=AT)
    repository.update("1140300001", owner, {"title": "科長"}, at=AT, expected_revision=1)
    with pytest.raises(VacancyConflictError):
        repository.update("1140300001", owner, {"title": "專員"}, at=AT, expected_revision=1)
    assert repository.get("1140300001").title == "科長"


def test_bad_changes_store_nothing(repository: Any, owner: Actor) -> None:
    repository.add(make_vacancy(), owner, at=AT)
    with pytest.raises(FieldReadOnlyError):
        repository.update("1140300001", owner, {"agency_code": OTHER_AGENCY}, at=AT)
    with pytest.raises(VacancyFieldError):
        repository.update("1140300001", owner, {"salary": 1}, at=AT)
    with pytest.raises(WorkPlaceError):
        repository.update("1140300001", owner, {"work_places": ["火星"]}, at=AT)
    rules = VacancyRules()
    with pytest.raises(VacancyInvalidError):
        repository.update(
            "1140300001", owner, {"title": "", "filler_phone": "123"}, at=AT, check=rules.checker(AT.date())
        )
    assert repository.get("1140300001") == make_vacancy() and repository.get("1140300001").revision == 1
    unchanged = repository.update("1140300001", owner, {"title": "科員"}, at=AT)
    assert unchanged.revision == 1 and len(repository.history("1140300001")) == 1


def test_withdraw(repository: Any, owner: Actor) -> None:
    repository.add(make_vacancy(), owner, at=AT)
    moment = dt.datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
    withdrawn = repository.withdraw("1140300001", owner, at=moment)
    assert withdrawn.status(moment) is VacancyStatus.WITHDRAWN and withdrawn.work_id == "1140300001"
    assert repository.get("1140300001").withdrawn_at == moment
    assert repository.online(OnlineQuery(moment)).total == 0
    assert (
        repository.online(OnlineQuery(moment - dt.timedelta(seconds=1))).total == 1
    )  # it was online until then
    assert repository.online(OnlineQuery(dt.date(2025, 3, 4))).total == 0  # a plain day counts any withdrawal
    with pytest.raises(VacancyWithdrawnError):
        repository.withdraw("1140300001", owner, at=moment)
    with pytest.raises(VacancyWithdrawnError):
        repository.update("1140300001", owner, {"title": "x"}, at=moment)
    assert repository.history("1140300001")[-1].field == "*withdrawn"
    assert repository.for_agency(AGENCY, dt.date(2025, 3, 6))[0].withdrawn_at == moment


def test_import_many(repository: Any) -> None:
    first = [make_vacancy(work_id=f"11403{n:05d}") for n in range(5)]
    assert repository.import_many(first, SYSTEM, at=AT) == type(repository.import_many([], SYSTEM, at=AT))(
        5, 0, 0
    )
    second = [*first[:3], dataclasses.replace(first[3], title="技士"), make_vacancy(work_id="1140399999")]
    report = repository.import_many(second, SYSTEM, at=AT + dt.timedelta(days=1))
    assert (report.added, report.updated, report.unchanged) == (1, 1, 3)
    assert repository.get(first[3].work_id).title == "技士"
    assert [r.field for r in repository.history(first[3].work_id)] == ["*created", "title"]


# --------------------------------------------------------------------------- queries

TITLES = ("科員", "技士", "約僱人員 Data Analyst", "護理師", "專員 (資訊)", "研究助理_100%")
KINDS = ("一般人員", "約僱人員", "教育人員", "其他人員")
PLACES = (10, 23, 33, 30, 31, 98, 99, 101)
SPANS = (0, 3, 7, 10, 14, 30, 60, 926)
AGENCIES = (AGENCY, OTHER_AGENCY, "376480000A")


def _dataset() -> list[Vacancy]:
    rng = random.Random(20250303)
    vacancies = []
    for n in range(90):
        start = dt.date(2024, 12, 1) + dt.timedelta(days=rng.randrange(150))
        if n == 0:
            start = dt.date(2022, 9, 1)  # a 926-day 長期徵才 still online in 2025
        span = 926 if n == 0 else rng.choice(SPANS)
        places = tuple(dict.fromkeys(work_place(rng.choice(PLACES)) for _ in range(rng.choice((1, 1, 2)))))
        classes = tuple(rng.sample(list(RankClass), rng.randrange(3)))
        vacancies.append(
            make_vacancy(
                work_id=f"11{n:08d}",
                agency_code=rng.choice(AGENCIES),
                title=rng.choice(TITLES),
                person_kind=PersonKind(rng.choice(KINDS)),
                work_places=places,
                rank_classes=classes,
                period=ValidityPeriod(start, start + dt.timedelta(days=span)),
            )
        )
    return vacancies


def _load(repository: Any) -> list[Vacancy]:
    vacancies = _dataset()
    repository.import_many(vacancies, SYSTEM, at=AT)
    withdrawn = []
    for vacancy in vacancies[5:90:9]:
        actor = Actor(principal_id="officer", agency_code=vacancy.agency_code)
        withdrawn.append(
            repository.withdraw(vacancy.work_id, actor, at=dt.datetime(2025, 2, 1, 4, 0, tzinfo=UTC))
        )
    by_id = {v.work_id: v for v in vacancies} | {v.work_id: v for v in withdrawn}
    return list(by_id.values())


def _expected(vacancies: list[Vacancy], at: dt.datetime | dt.date, **query: Any) -> list[str]:
    """A brute-force oracle written apart from the library's own predicate."""
    if isinstance(at, dt.datetime):
        day, cutoff = at.astimezone(dt.timezone(dt.timedelta(hours=8))).date(), at
    else:
        day, cutoff = at, None
    found = []
    for v in vacancies:
        if not v.period.start <= day <= v.period.end:
            continue
        if v.withdrawn_at is not None and (cutoff is None or v.withdrawn_at <= cutoff):
            continue
        if query.get("county") is not None and query["county"] not in [p.dgpa_code for p in v.work_places]:
            continue
        if query.get("kind") is not None and v.person_kind.value != query["kind"]:
            continue
        if query.get("agency") is not None and v.agency_code != query["agency"]:
            continue
        keyword = query.get("keyword")
        if keyword is not None and keyword.lower() not in (v.title + "\n" + v.agency_name).lower():
            continue
        types = query.get("types")
        if types and not set(types) & {r.value for r in v.rank_classes}:
            continue
        found.append(v)
    sort = query.get("sort", "date_from_desc")
    key = (lambda v: (v.period.start, v.work_id)) if "from" in sort else (lambda v: (v.period.end, v.work_id))
    found.sort(key=key, reverse=sort.endswith("desc"))
    return [v.work_id for v in found]


QUERIES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    ({"county": "臺北市"}, {"county": 10}),
    ({"county": "台北市"}, {"county": 10}),
    ({"county": 10}, {"county": 10}),
    ({"county": "33"}, {"county": 33}),
    ({"county": "桃園縣"}, {"county": 33}),
    ({"county": work_place("新竹縣")}, {"county": 31}),
    ({"county": "TW-LIE"}, {"county": 98}),
    ({"county": 101}, {"county": 101}),
    ({"person_kind": "一般人員"}, {"kind": "一般人員"}),
    ({"person_kind": PersonKind("約僱人員"), "county": 23}, {"kind": "約僱人員", "county": 23}),
    ({"agency_code": AGENCY}, {"agency": AGENCY}),
    ({"keyword": "科員"}, {"keyword": "科員"}),
    ({"keyword": "data analyst"}, {"keyword": "data analyst"}),
    ({"keyword": "100%"}, {"keyword": "100%"}),
    ({"keyword": "數位"}, {"keyword": "數位"}),
    ({"keyword": "_"}, {"keyword": "_"}),
    ({"rank_classes": "薦任"}, {"types": ["薦任"]}),
    ({"rank_classes": [RankClass.SENIOR, "委任"]}, {"types": ["簡任", "委任"]}),
    (
        {"county": 10, "person_kind": "一般人員", "rank_classes": "委任"},
        {"county": 10, "kind": "一般人員", "types": ["委任"]},
    ),
    ({"sort": "date_from_asc"}, {"sort": "date_from_asc"}),
    ({"sort": "date_to_asc", "county": 10}, {"sort": "date_to_asc", "county": 10}),
    ({"sort": "date_to_desc", "person_kind": "其他人員"}, {"sort": "date_to_desc", "kind": "其他人員"}),
]
MOMENTS: list[dt.datetime | dt.date] = [
    dt.date(2025, 1, 15),
    dt.date(2025, 3, 3),
    dt.datetime(2025, 2, 1, 3, 59, tzinfo=UTC),  # a minute before the withdrawals
    dt.datetime(2025, 2, 28, 16, 30, tzinfo=UTC),  # already 3/1 in Taipei
    dt.date(2022, 12, 1),
    dt.date(2030, 1, 1),
]


def test_online_returns_exactly_the_vacancies_in_their_window(repository: Any) -> None:
    vacancies = _load(repository)
    nonempty = 0
    for at in MOMENTS:
        for arguments, oracle in QUERIES:
            expected = _expected(vacancies, at, **oracle)
            pages = -(-len(expected) // 15) or 1
            seen: list[str] = []
            for page_number in range(1, pages + 1):
                page = repository.online(OnlineQuery.parse(at, **arguments, page=page_number))
                assert page.total == len(expected), (at, arguments)
                assert page.per_page == 15 and page.pages == pages
                seen.extend(v.work_id for v in page.items)
            assert seen == expected, (at, arguments)
            nonempty += bool(expected)
    assert nonempty > 60  # the dataset really exercises the filters


def test_online_paging_and_limits(repository: Any) -> None:
    vacancies = _load(repository)
    expected = _expected(vacancies, dt.date(2025, 3, 3))
    assert len(expected) > 10
    page = repository.online(OnlineQuery(dt.date(2025, 3, 3), page=2, per_page=4))
    assert [v.work_id for v in page.items] == expected[4:8] and page.total == len(expected)
    beyond = repository.online(OnlineQuery(dt.date(2025, 3, 3), page=99))
    assert beyond.items == () and beyond.total == len(expected)
    for bad in ({"sort": "title"}, {"page": 0}, {"per_page": 501}, {"keyword": "x" * 101}):
        with pytest.raises(VacancyQueryError):
            OnlineQuery.parse(dt.date(2025, 3, 3), **bad)
    with pytest.raises(WorkPlaceError):
        OnlineQuery.parse(dt.date(2025, 3, 3), county="火星")


def test_for_agency(repository: Any) -> None:
    vacancies = _load(repository)
    day = next(v.period.start for v in vacancies if v.withdrawn_at and v.agency_code == AGENCY)
    expected = sorted(
        (v for v in vacancies if v.agency_code == AGENCY and v.period.start <= day <= v.period.end),
        key=lambda v: (v.period.start, v.work_id),
        reverse=True,
    )
    assert [v.work_id for v in repository.for_agency(AGENCY, day)] == [v.work_id for v in expected]
    assert any(v.withdrawn_at for v in expected)  # withdrawn ones stay visible to their agency
    assert repository.for_agency("0000000000", day) == []


def test_empty_repository(repository: Any) -> None:
    page = repository.online(OnlineQuery.parse(dt.date(2025, 3, 3), county=10))
    assert page.items == () and page.total == 0 and page.pages == 1


# --------------------------------------------------------------------------- concurrency


def test_concurrent_threads_never_lose_an_update(repository: Any, owner: Actor) -> None:
    repository.add(make_vacancy(headcount=Headcount.of(1)), owner, at=AT)
    workers, times = 6, 5
    errors: list[BaseException] = []

    def work(n: int) -> None:
        actor = Actor(principal_id=f"officer-{n}", agency_code=AGENCY)
        try:
            for _ in range(times):
                while True:
                    current = repository.get("1140300001")
                    try:
                        repository.update(
                            "1140300001",
                            actor,
                            {"headcount": Headcount.of((current.headcount.regular or 0) + 1)},
                            at=AT,
                            expected_revision=current.revision,
                        )
                        break
                    except VacancyConflictError:
                        continue
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = repository.get("1140300001")
    assert final.headcount.regular == 1 + workers * times
    assert final.revision == 1 + workers * times
    assert sum(r.field == "headcount" for r in repository.history("1140300001")) == workers * times


def _process_race(url: str, schema: str | None) -> None:
    repository = SqlVacancyRepository(url, schema=schema)
    owner = Actor(principal_id="officer-1", agency_code=AGENCY)
    repository.add(make_vacancy(headcount=Headcount.of(1)), owner, at=AT)
    repository.close()
    workers, times = 4, 5
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        results = [
            pool.apply_async(increment_headcount, (url, schema, "1140300001", AGENCY, times, f"p{n}"))
            for n in range(workers)
        ]
        conflicts = [r.get(timeout=120) for r in results]
    repository = SqlVacancyRepository(url, schema=schema)
    try:
        final = repository.get("1140300001")
        assert final.headcount.regular == 1 + workers * times, conflicts
        history = repository.history("1140300001")
        assert sum(r.field == "headcount" for r in history) == workers * times
        assert {r.who for r in history if r.field == "headcount"} == {f"p{n}" for n in range(workers)}
    finally:
        repository.close()


def test_concurrent_processes_sqlite(tmp_path: Path) -> None:
    _process_race(f"sqlite:///{tmp_path / 'race.sqlite3'}", None)


def test_concurrent_processes_postgresql(pg_schema: tuple[str, str]) -> None:
    _process_race(*pg_schema)


def _open_together(url: str, schema: str | None, workers: int = 8) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(workers, timeout=60), ctx.Queue()
    processes = [
        ctx.Process(target=open_repository, args=(url, schema, barrier, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        return [results.get(timeout=90) for _ in processes]
    finally:
        for process in processes:
            process.join(10)


def test_workers_opening_a_fresh_sqlite_file_together_all_come_up(tmp_path: Path) -> None:
    assert _open_together(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", None) == ["ok"] * 8


def test_workers_opening_a_fresh_postgresql_schema_together_all_come_up(pg_schema: tuple[str, str]) -> None:
    assert _open_together(*pg_schema) == ["ok"] * 8


# --------------------------------------------------------------------------- SQL specifics


def _county_kind_statement(repository: SqlVacancyRepository) -> tuple[sa.Select[Any], sa.Select[Any]]:
    query = OnlineQuery.parse(dt.date(2025, 3, 3), county="臺北市", person_kind="一般人員")
    return repository.online_statements(query, 926)


@pytest.mark.parametrize("mmap_bytes", [None, 0, 1 << 20])
def test_sqlite_connections_are_tuned(tmp_path: Path, mmap_bytes: int | None) -> None:
    url = f"sqlite:///{tmp_path / 'tuned.sqlite3'}"
    options = {} if mmap_bytes is None else {"sqlite_mmap_bytes": mmap_bytes}
    repository = SqlVacancyRepository(url, **options)
    with repository.engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "page_size", "mmap_size", "synchronous")
        }
    assert pragma == {
        "journal_mode": "wal",  # readers go on while an import writes
        "page_size": 8192,  # new files: 3 KB rows
        "mmap_size": 256 << 20 if mmap_bytes is None else mmap_bytes,
        "synchronous": 1,  # NORMAL
    }
    repository.close()


def test_sqlite_plan_uses_the_covering_index(sqlite_url: str) -> None:
    repository = SqlVacancyRepository(sqlite_url)
    repository.import_many(_dataset(), SYSTEM, at=AT)
    with repository.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        for statement in _county_kind_statement(repository):
            compiled = statement.compile(repository.engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(
                str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            )
            assert "COVERING INDEX ix_places_county_kind" in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # the order comes from the index, no sort
    repository.close()


def test_postgresql_plan_uses_the_index(pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    repository = SqlVacancyRepository(url, schema=schema)
    repository.import_many(_dataset(), SYSTEM, at=AT)
    with repository.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        # 90 rows would make any table scan cheapest; ask whether the index can answer at all.
        connection.exec_driver_sql("SET enable_seqscan = off")
        for statement in _county_kind_statement(repository):
            compiled = statement.compile(repository.engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}"))
            assert "ix_places_county_kind" in plan, plan
            assert "Seq Scan" not in plan, plan
    repository.close()


def test_prefix_and_schema_isolation(sqlite_url: str, owner: Actor) -> None:
    first = SqlVacancyRepository(sqlite_url, prefix="a_")
    second = SqlVacancyRepository(sqlite_url, prefix="b_")
    first.add(make_vacancy(), owner, at=AT)
    with pytest.raises(VacancyNotFoundError):
        second.get("1140300001")
    assert len(first) == 1 and len(second) == 0
    first.drop()
    first.close()
    second.close()


def test_existing_opens_only_a_repository_that_is_there(tmp_path: Path, pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    with pytest.raises(VacancyDatabaseMissingError):
        SqlVacancyRepository.existing(url, schema=schema)  # an empty schema
    SqlVacancyRepository(url, schema=schema).close()
    opened = SqlVacancyRepository.existing(url, schema=schema)
    assert len(opened) == 0
    opened.close()
    path = tmp_path / "v.sqlite3"
    for missing in (f"sqlite:///{path}", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(VacancyDatabaseMissingError):
            SqlVacancyRepository.existing(missing)
    assert not path.exists()
    SqlVacancyRepository(f"sqlite:///{path}", prefix="other_").close()
    with pytest.raises(VacancyDatabaseMissingError):
        SqlVacancyRepository.existing(f"sqlite:///{path}")  # tables of another prefix only
    SqlVacancyRepository.existing(f"sqlite:///{path}", prefix="other_").close()
    secret = "postgresql+psycopg://postgres:hunter2@127.0.0.1:5432/test"
    with pytest.raises(VacancyDatabaseMissingError) as info:
        SqlVacancyRepository.existing(secret, schema=schema, prefix="none_")
    assert "hunter2" not in info.value.message_english and "***" in info.value.message_english


def test_storage_failures_are_catalogued(tmp_path: Path) -> None:
    with pytest.raises(VacancyStorageError):
        SqlVacancyRepository(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.sqlite3'}")
    with pytest.raises(VacancyStorageError):
        SqlVacancyRepository("nosuchdialect://x")


def test_logs_carry_ids_and_field_names_only(
    repository: Any, owner: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="twcert_vacancy")
    repository.add(make_vacancy(), owner, at=AT)
    repository.update(
        "1140300001",
        owner,
        {"filler_name": "陳大文", "filler_phone": "0987654321", "contact_email": "chen@example.gov.tw"},
        at=AT,
    )
    repository.import_many([make_vacancy(work_id="1140300002")], SYSTEM, at=AT)
    repository.withdraw("1140300001", owner, at=AT)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "1140300001" in text and "filler_phone" in text
    for secret in ("王小明", "陳大文", "0987654321", "2345-6789", "chen@example.gov.tw", "hr@example.gov.tw"):
        assert secret not in text


# --------------------------------------------------------------------------- the query


def test_online_takes_one_query_on_every_backend() -> None:
    for method in (VacancyRepository.online, MemoryVacancyRepository.online, SqlVacancyRepository.online):
        assert list(inspect.signature(method).parameters) == ["self", "query"], method


def test_online_query_is_a_checked_frozen_value() -> None:
    day = dt.date(2025, 3, 3)
    typed = OnlineQuery(day, county=work_place(10), person_kind=PersonKind("一般人員"), keyword="  科員 ")
    parsed = OnlineQuery.parse(day, county="台北市", person_kind=" 一般人員", keyword="科員")
    assert typed == parsed and hash(typed) == hash(parsed)  # one form of each filter: a cache key
    assert typed.keyword == "科員" and typed.day == day and typed.withdrawn_before is None
    assert OnlineQuery(day, agency_code="  ", keyword="").agency_code is None
    assert OnlineQuery.parse(day, rank_classes=["薦任", RankClass.JUNIOR, "委任,簡任"]).rank_classes == (
        RankClass.JUNIOR,
        RankClass.ELEMENTARY,
        RankClass.SENIOR,
    )
    at = dt.datetime(2025, 3, 3, 1, 0)  # naive: Taipei wall-clock time
    assert OnlineQuery(at).withdrawn_before == at.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.page = 2  # type: ignore[misc]
    assert dataclasses.replace(typed, page=2).offset == 15


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"at": "2025-03-03"}, "at"),
        ({"county": "臺北市"}, "county"),  # text is for OnlineQuery.parse
        ({"person_kind": "一般人員"}, "person_kind"),
        ({"rank_classes": ("薦任",)}, "rank_classes"),
        ({"rank_classes": RankClass.JUNIOR}, "rank_classes"),
        ({"sort": "title"}, "sort"),
        ({"page": 0}, "page"),
        ({"page": True}, "page"),
        ({"per_page": 501}, "per_page"),
        ({"keyword": "x" * 101}, "keyword"),
        ({"agency_code": 376480000}, "agency_code"),
    ],
)
def test_online_query_names_the_bad_parameter(arguments: dict[str, Any], parameter: str) -> None:
    values: dict[str, Any] = {"at": dt.date(2025, 3, 3)} | arguments
    with pytest.raises(VacancyQueryError) as info:
        OnlineQuery(**values)
    assert info.value.params["reason"] == f"bad {parameter}"


def test_online_query_parse_refuses_unknown_text_with_catalogued_errors() -> None:
    day = dt.date(2025, 3, 3)
    with pytest.raises(WorkPlaceError):
        OnlineQuery.parse(day, county="火星")
    with pytest.raises(RankClassError):
        OnlineQuery.parse(day, rank_classes=["薦任", "大任"])
    with pytest.raises(VacancyQueryError):
        OnlineQuery.parse(day, rank_classes=[3])  # type: ignore[list-item]
