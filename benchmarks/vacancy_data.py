"""Generated vacancies with the feed's measured distributions (docs/reference/dgpa.md, the vacancy feed).

- 人員區分: the 2016 counts (其他人員 319, 一般人員 307, 約僱人員 212, 工友 72 …).
- Window length by kind: median 10 days for 一般人員, 7 for 約僱人員, 60 for 教育人員, at least 3,
  with a 1% tail of 長期徵才 up to 926 days.
- Work places: weighted towards the big cities; 2.5% of rows list two places (28 of 1,106 in 2016).
- Starts: spread over 20 years (2006-2025), about 137 new vacancies a day, so about 2,000-3,000
  are online on any day, as on the real board.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from twcert_vacancy import Headcount, PersonKind, RankClass, Vacancy, ValidityPeriod, work_place

KINDS = {
    "其他人員": 319,
    "一般人員": 307,
    "約僱人員": 212,
    "工友": 72,
    "教育人員": 56,
    "聘用人員": 53,
    "駕駛": 34,
    "技工": 32,
    "人事人員": 9,
    "審計人員": 4,
    "交通事業人員": 2,
    "駐衛警": 1,
    "代理教師": 1,
}
MEDIAN_DAYS = {"一般人員": 10, "約僱人員": 7, "教育人員": 60}
COUNTIES = {
    10: 200,
    23: 100,
    33: 70,
    42: 90,
    72: 60,
    82: 90,
    20: 20,
    30: 25,
    60: 15,
    31: 25,
    35: 20,
    50: 30,
    54: 25,
    63: 20,
    61: 20,
    90: 25,
    26: 20,
    97: 20,
    95: 15,
    88: 10,
    89: 8,
    98: 5,
    99: 5,
    101: 2,
}
FIRST_DAY = dt.date(2006, 1, 1)
DAYS = 20 * 365
TITLES = (
    "科員",
    "技士",
    "專員",
    "約僱人員",
    "技佐",
    "護理師",
    "工友",
    "駕駛",
    "助理員",
    "講師",
    "書記",
    "技工",
)
AGENCIES = [f"A{n:08d}G" for n in range(3000)]


def _span(rng: random.Random, kind: str) -> int:
    if rng.random() < 0.01:
        return rng.randint(120, 926)
    median = MEDIAN_DAYS.get(kind, 10)
    return max(3, round(rng.lognormvariate(0, 0.45) * median))


def _period(rng: random.Random, kind: str, start: dt.date | None, snapshot: dt.date | None) -> ValidityPeriod:
    span = _span(rng, kind)
    if start is None:
        assert snapshot is not None
        start = snapshot - dt.timedelta(days=rng.randrange(min(span, 120) + 1))
    return ValidityPeriod(start, start + dt.timedelta(days=span))


def generate(
    count: int, *, seed: int = 7, text_scale: int = 0, snapshot: dt.date | None = None
) -> Iterator[Vacancy]:
    """``count`` vacancies; ``text_scale`` > 0 adds feed-sized long texts (for the XML import).

    With ``snapshot``, every vacancy is online that day, as in a real feed file (which holds only
    published vacancies): starts fall in the 120 days before it and windows reach it.
    """
    rng = random.Random(seed)
    kinds, kind_weights = list(KINDS), list(KINDS.values())
    codes, code_weights = list(COUNTIES), list(COUNTIES.values())
    places = {code: work_place(code) for code in codes}
    filler = "依公務人員任用法規定，具有該職系任用資格者。" * text_scale
    for n in range(count):
        kind = rng.choices(kinds, kind_weights)[0]
        # Draw in the same order as before --snapshot existed, so recorded figures stay reproducible.
        start = FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS)) if snapshot is None else None
        chosen = rng.choices(codes, code_weights, k=2 if rng.random() < 0.025 else 1)
        regular = rng.choice((1, 1, 1, 2, 3))
        yield Vacancy(
            work_id=f"{n:010d}",
            agency_code=rng.choice(AGENCIES),
            agency_name=f"測試機關{n % 3000}",
            title=rng.choice(TITLES),
            person_kind=PersonKind(kind),
            headcount=Headcount.of(regular, rng.choice((None, 0, regular))),
            work_places=tuple(dict.fromkeys(places[c] for c in chosen)),
            period=_period(rng, kind, start, snapshot),
            rank_classes=(RankClass.JUNIOR, RankClass.ELEMENTARY) if kind == "一般人員" else (),
            series="綜合行政" if kind == "一般人員" else "",
            qualifications=filler,
            duties=filler[: len(filler) // 2],
            work_address="臺北市中正區重慶南路一段122號",
            contact_method=filler[: len(filler) // 3],
            contact_email="hr@example.gov.tw" if n % 4 == 0 else "",
            disability_eligible=n % 7 == 0,
            indigenous_eligible=n % 11 == 0,
            indigenous_area=False,
            training=False,
            transfer=n % 2 == 0,
            detail_url=f"https://web3.dgpa.gov.tw/want03front/ap/wantf00001_1.aspx?work_id={n:010d}",
        )


def sample_queries(count: int, *, seed: int = 11) -> list[tuple[dt.date, int, str]]:
    """Query days in the last two years, counties and kinds drawn with the data's own weights."""
    rng = random.Random(seed)
    kinds, kind_weights = list(KINDS), list(KINDS.values())
    codes, code_weights = list(COUNTIES), list(COUNTIES.values())
    last = FIRST_DAY + dt.timedelta(days=DAYS)
    return [
        (
            last - dt.timedelta(days=rng.randrange(730)),
            rng.choices(codes, code_weights)[0],
            rng.choices(kinds, kind_weights)[0],
        )
        for _ in range(count)
    ]
