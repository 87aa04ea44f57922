from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

from twcert_vacancy import Headcount, ValidityPeriod, atom_feed, job_posting, job_postings_jsonld, work_place

from .conftest import make_vacancy

ATOM = "{http://www.w3.org/2005/Atom}"
SECRETS = ("王小明", "2345-6789", "hr@example.gov.tw", "臺北市中正區延平南路")


def test_job_posting_mapping() -> None:
    vacancy = make_vacancy(
        duties="辦理資訊業務",
        qualifications="具資訊處理職系任用資格",
        work_address="臺北市中正區寶慶路3號",
        detail_url="https://web3.dgpa.gov.tw/want03front/ap/wantf00001_1.aspx?work_id=1140300001",
        headcount=Headcount.of(2),
        work_places=(work_place(10), work_place(101)),
    )
    posting = job_posting(vacancy)
    assert posting["@type"] == "JobPosting" and posting["title"] == "科員"
    assert posting["datePosted"] == "2025-03-03"
    assert posting["validThrough"] == "2025-03-14T23:59:59+08:00"
    assert posting["hiringOrganization"] == {
        "@type": "Organization",
        "name": "數位發展部",
        "identifier": "A29000000G",
    }
    assert posting["totalJobOpenings"] == 2
    assert (
        posting["qualifications"] == "具資訊處理職系任用資格"
        and posting["responsibilities"] == "辦理資訊業務"
    )
    assert posting["occupationalCategory"] == "綜合行政" and posting["employmentType"] == "FULL_TIME"
    assert posting["url"].endswith("work_id=1140300001")
    assert posting["identifier"]["value"] == "1140300001"
    taipei, village = (place["address"] for place in posting["jobLocation"])
    assert taipei == {
        "@type": "PostalAddress",
        "addressCountry": "TW",
        "addressRegion": "臺北市",
        "streetAddress": "臺北市中正區寶慶路3號",
    }
    assert village["addressRegion"] == "南投縣" and village["addressLocality"] == "中興新村"
    assert "辦理資訊業務" in posting["description"]


def test_unknown_headcount_and_kind_are_left_out() -> None:
    posting = job_posting(
        make_vacancy(
            headcount=Headcount.parse("數名"), person_kind=make_vacancy().person_kind.__class__("研究助理")
        )
    )
    assert "totalJobOpenings" not in posting and "employmentType" not in posting


def test_personal_data_only_on_request() -> None:
    vacancy = make_vacancy()
    public = job_postings_jsonld([vacancy])
    assert all(secret not in public for secret in SECRETS[:3])
    document = json.loads(public)
    assert document["@context"] == "https://schema.org" and document["@type"] == "JobPosting"
    with_contact = json.loads(job_postings_jsonld([vacancy, make_vacancy(work_id="2")], include_contact=True))
    contact = with_contact["@graph"][0]["applicationContact"]
    assert contact["email"] == "hr@example.gov.tw" and "王小明" in contact["description"]
    # The filler's name and phone fields are never published, even on request.
    assert "filler" not in json.dumps(with_contact)


def test_atom_feed_of_online_vacancies() -> None:
    online = make_vacancy()
    expired = make_vacancy(
        work_id="1140200009", period=ValidityPeriod(dt.date(2025, 2, 1), dt.date(2025, 2, 10))
    )
    scheduled = make_vacancy(
        work_id="1140400001", period=ValidityPeriod(dt.date(2025, 4, 1), dt.date(2025, 4, 10))
    )
    withdrawn = make_vacancy(work_id="1140300002", withdrawn_at=dt.datetime(2025, 3, 4, tzinfo=dt.UTC))
    at = dt.datetime(2025, 3, 5, 1, 0, tzinfo=dt.UTC)
    data = atom_feed([online, expired, scheduled, withdrawn], at=at, self_url="https://example.gov.tw/atom")
    root = ET.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == ["urn:twcert-vacancy:1140300001"]
    entry = entries[0]
    assert entry.findtext(f"{ATOM}title") == "數位發展部 科員"
    assert entry.findtext(f"{ATOM}published") == "2025-03-03T00:00:00+08:00"
    assert root.findtext(f"{ATOM}updated") == "2025-03-05T09:00:00+08:00"
    assert [c.get("label") for c in entry.findall(f"{ATOM}category")] == ["臺北市"]
    text = data.decode()
    assert all(secret not in text for secret in SECRETS[:3])
    assert "hr@example.gov.tw" in atom_feed([online], at=at, include_contact=True).decode()
