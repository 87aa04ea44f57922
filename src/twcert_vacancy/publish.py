"""Publishing vacancies: schema.org ``JobPosting`` JSON-LD and an Atom feed of online vacancies.

Mapping (docs/reference/dgpa.md): ORG_NAME/ORG_ID → ``hiringOrganization``, TITLE →
``title``, DATE_FROM → ``datePosted``, DATE_TO → ``validThrough`` at 23:59:59+08:00, work places
→ ``jobLocation`` (``addressRegion``, ``addressCountry`` TW), WORK_ADDRESS → ``streetAddress``,
a numeric 名額 → ``totalJobOpenings`` (left out for 數名), WORK_QUALITY → ``qualifications``,
WORK_ITEM → ``responsibilities``, SYSNAM → ``occupationalCategory``, VIEW_URL → ``url``,
人員區分 → ``employmentType`` (lossy, known kinds only). Contact data is only included when the
caller passes ``include_contact=True``; the filler's name and phone are never published.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any, Final

from .model import TAIPEI, Vacancy
from .regions import WORK_PLACES, WorkPlace

__all__ = ["EMPLOYMENT_TYPES", "atom_feed", "job_posting", "job_postings_jsonld"]

#: 人員區分 → schema.org employmentType; kinds not listed get none (the mapping is lossy).
EMPLOYMENT_TYPES: Final = {
    "一般人員": "FULL_TIME",
    "人事人員": "FULL_TIME",
    "審計人員": "FULL_TIME",
    "警察人員": "FULL_TIME",
    "交通事業人員": "FULL_TIME",
    "會計人員（非主辦）": "FULL_TIME",
    "教育人員": "FULL_TIME",
    "工友": "FULL_TIME",
    "技工": "FULL_TIME",
    "駕駛": "FULL_TIME",
    "駐衛警": "FULL_TIME",
    "約僱人員": "TEMPORARY",
    "聘用人員": "CONTRACTOR",
    "代理教師": "TEMPORARY",
    "兼任教師": "PART_TIME",
    "實習老師": "INTERN",
}
_ATOM = "http://www.w3.org/2005/Atom"


def _end_of_day(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=TAIPEI).isoformat()


def _location(place: WorkPlace, street: str) -> dict[str, Any]:
    address: dict[str, Any] = {"@type": "PostalAddress", "addressCountry": "TW"}
    if place.is_county:
        address["addressRegion"] = place.name
    elif place.within is not None:
        address["addressRegion"] = WORK_PLACES[place.within].name
        address["addressLocality"] = place.name
    if street:
        address["streetAddress"] = street
    return {"@type": "Place", "address": address}


def job_posting(vacancy: Vacancy, *, include_contact: bool = False) -> dict[str, Any]:
    """One vacancy as a schema.org ``JobPosting`` object (without ``@context``)."""
    description = (
        "\n\n".join(part for part in (vacancy.duties.strip(), vacancy.qualifications.strip()) if part)
        or vacancy.title
    )
    posting: dict[str, Any] = {
        "@type": "JobPosting",
        "identifier": {"@type": "PropertyValue", "name": "work_id", "value": vacancy.work_id},
        "title": vacancy.title,
        "description": description,
        "datePosted": vacancy.period.start.isoformat(),
        "validThrough": _end_of_day(vacancy.period.end),
        "hiringOrganization": {"@type": "Organization", "name": vacancy.agency_name},
        "jobLocation": [_location(place, vacancy.work_address.strip()) for place in vacancy.work_places],
    }
    if vacancy.agency_code:
        posting["hiringOrganization"]["identifier"] = vacancy.agency_code
    if vacancy.headcount.regular is not None:
        posting["totalJobOpenings"] = vacancy.headcount.regular
    optional = {
        "qualifications": vacancy.qualifications.strip(),
        "responsibilities": vacancy.duties.strip(),
        "occupationalCategory": vacancy.series.strip(),
        "url": vacancy.detail_url.strip(),
        "employmentType": EMPLOYMENT_TYPES.get(vacancy.person_kind.value, ""),
    }
    posting.update({key: value for key, value in optional.items() if value})
    if include_contact and (vacancy.contact_email.strip() or vacancy.contact_method.strip()):
        contact: dict[str, Any] = {"@type": "ContactPoint"}
        if vacancy.contact_email.strip():
            contact["email"] = vacancy.contact_email.strip()
        if vacancy.contact_method.strip():
            contact["description"] = vacancy.contact_method.strip()
        posting["applicationContact"] = contact
    return posting


def job_postings_jsonld(vacancies: Iterable[Vacancy], *, include_contact: bool = False) -> str:
    """A JSON-LD document: one ``JobPosting`` or an ``@graph`` of them."""
    postings = [job_posting(v, include_contact=include_contact) for v in vacancies]
    document: dict[str, Any] = {"@context": "https://schema.org"}
    if len(postings) == 1:
        document.update(postings[0])
    else:
        document["@graph"] = postings
    return json.dumps(document, ensure_ascii=False, indent=2)


def _summary(vacancy: Vacancy) -> str:
    places = "、".join(place.name for place in vacancy.work_places)
    return (
        f"{vacancy.agency_name}｜{vacancy.person_kind.value}｜名額：{vacancy.headcount.raw}｜工作地：{places}｜"
        f"有效期間：{vacancy.period.start.isoformat()}～{vacancy.period.end.isoformat()}"
    )


def atom_feed(
    vacancies: Iterable[Vacancy],
    *,
    at: dt.datetime,
    feed_id: str = "urn:twcert-vacancy:online",
    title: str = "事求人機關徵才 線上職缺",
    self_url: str | None = None,
    include_contact: bool = False,
) -> bytes:
    """An Atom 1.0 feed of the vacancies online at ``at`` (others are left out)."""
    ET.register_namespace("", _ATOM)
    online = [v for v in vacancies if v.is_online(at)]
    feed = ET.Element(f"{{{_ATOM}}}feed")
    ET.SubElement(feed, f"{{{_ATOM}}}id").text = feed_id
    ET.SubElement(feed, f"{{{_ATOM}}}title").text = title
    stamp = at if at.tzinfo else at.replace(tzinfo=TAIPEI)
    ET.SubElement(feed, f"{{{_ATOM}}}updated").text = stamp.astimezone(TAIPEI).isoformat(timespec="seconds")
    if self_url:
        ET.SubElement(feed, f"{{{_ATOM}}}link", rel="self", href=self_url)
    for vacancy in online:
        entry = ET.SubElement(feed, f"{{{_ATOM}}}entry")
        ET.SubElement(entry, f"{{{_ATOM}}}id").text = f"urn:twcert-vacancy:{vacancy.work_id}"
        ET.SubElement(entry, f"{{{_ATOM}}}title").text = f"{vacancy.agency_name} {vacancy.title}"
        posted = dt.datetime.combine(vacancy.period.start, dt.time(), tzinfo=TAIPEI).isoformat()
        ET.SubElement(entry, f"{{{_ATOM}}}published").text = posted
        ET.SubElement(entry, f"{{{_ATOM}}}updated").text = posted
        author = ET.SubElement(entry, f"{{{_ATOM}}}author")
        ET.SubElement(author, f"{{{_ATOM}}}name").text = vacancy.agency_name
        if vacancy.detail_url:
            ET.SubElement(entry, f"{{{_ATOM}}}link", rel="alternate", href=vacancy.detail_url)
        summary = _summary(vacancy)
        if include_contact and vacancy.contact_email.strip():
            summary += f"｜聯絡E-Mail：{vacancy.contact_email.strip()}"
        if include_contact and vacancy.contact_method.strip():
            summary += f"｜聯絡方式：{vacancy.contact_method.strip()}"
        ET.SubElement(entry, f"{{{_ATOM}}}summary").text = summary
        for place in vacancy.work_places:
            ET.SubElement(entry, f"{{{_ATOM}}}category", term=str(place.dgpa_code), label=place.name)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
