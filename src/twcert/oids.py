"""Object identifiers and constants of the Taiwan Government PKI, as plain tables.

Sources are in ``docs/reference/gpki.md``; values marked *unconfirmed*
there are only defaults that callers can override (see :mod:`twcert.validation`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "CARD_SERIAL",
    "EMPLOYEE_ID",
    "GPKI_ASSURANCE_LEVEL_3",
    "GPKI_TEST_POLICY",
    "HOLDER_RANK",
    "ID_TAIL",
    "ISSUER_OU_FAMILY",
    "ORGANISATION_OID",
    "SUBJECT_DIRECTORY_ATTRIBUTES",
    "SUBJECT_TYPE",
    "SUBJECT_TYPES",
    "UNIFORM_BUSINESS_NUMBER",
    "SubjectType",
]

#: X.509 subjectDirectoryAttributes extension (RFC 5280 §4.2.1.8).
SUBJECT_DIRECTORY_ATTRIBUTES: Final = "2.5.29.9"

# Attribute types inside subjectDirectoryAttributes (GPKI certificate profile).
#: Subject type (an OID value, see :data:`SUBJECT_TYPES`).
SUBJECT_TYPE: Final = "2.16.886.1.100.2.1"
#: Holder rank (primary/secondary); not present on normal MOICA cards.
HOLDER_RANK: Final = "2.16.886.1.100.2.2"
#: Last four characters of the holder's national ID / resident number (身分證後4碼).
ID_TAIL: Final = "2.16.886.1.100.2.51"
#: Uniform business number (統一編號), MOEACA.
UNIFORM_BUSINESS_NUMBER: Final = "2.16.886.1.100.2.101"
#: Organisation OID of the agency (GCA, XCA).
ORGANISATION_OID: Final = "2.16.886.1.100.2.102"
#: Employee ID.
EMPLOYEE_ID: Final = "2.16.886.1.100.2.202"
#: Card / token serial number (also seen as a CMS signed attribute).
CARD_SERIAL: Final = "2.16.886.1.100.2.204"

#: GPKI certificate policy, assurance level 3 (on every MOICA/MOEACA CA certificate).
GPKI_ASSURANCE_LEVEL_3: Final = "2.16.886.101.0.3.3"
#: GPKI test policy arc. **Unconfirmed** in public sources: used only as a default of the
#: configurable test-policy set, never as the sole test signal (the issuer OU is).
GPKI_TEST_POLICY: Final = "2.16.886.101.0.3.0"


class SubjectType:
    """Values of the subject-type attribute (2.16.886.1.100.2.1)."""

    NATURAL_PERSON: Final = "2.16.886.1.100.3.1.1"
    GOVERNMENT_AGENCY: Final = "2.16.886.1.100.3.2.1.1"
    GOVERNMENT_UNIT: Final = "2.16.886.1.100.3.2.1.2"
    COMPANY: Final = "2.16.886.1.100.3.2.2.1.1"
    SOLE_PROPRIETORSHIP: Final = "2.16.886.1.100.3.2.3.1"
    BRANCH: Final = "2.16.886.1.100.3.2.3.3.1"
    SERVER: Final = "2.16.886.1.100.3.3.1"
    HEALTH_PROFESSIONAL: Final = "2.16.886.1.100.3.1.7"
    HEALTH_ORGANISATION: Final = "2.16.886.1.100.3.2.21"


#: subject-type OID -> holder kind name (values of :class:`twcert.HolderKind`).
SUBJECT_TYPES: Final = MappingProxyType(
    {
        SubjectType.NATURAL_PERSON: "citizen",
        SubjectType.GOVERNMENT_AGENCY: "agency",
        SubjectType.GOVERNMENT_UNIT: "unit",
        SubjectType.COMPANY: "business",
        SubjectType.SOLE_PROPRIETORSHIP: "business",
        SubjectType.BRANCH: "business",
        SubjectType.SERVER: "server",
        SubjectType.HEALTH_PROFESSIONAL: "health_professional",
        SubjectType.HEALTH_ORGANISATION: "organisation",
    }
)

#: Issuer organisational unit -> CA family name (values of :class:`twcert.CAFamily`).
ISSUER_OU_FAMILY: Final = MappingProxyType(
    {
        "內政部憑證管理中心": "MOICA",
        "政府憑證管理中心": "GCA",
        "工商憑證管理中心": "MOEACA",
        "組織及團體憑證管理中心": "XCA",
        "政府測試憑證管理中心": "GTESTCA",
    }
)
