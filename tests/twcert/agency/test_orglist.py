from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert.agency import AgencyResolver, MemoryAgencyDirectory, OrgListError, load_orglist
from twcert.agency.orglist import COLUMNS
from twcert.errors import AgencyAbolished, AgencyCodeUnknown
from twcert.testing.fixtures import FixtureSet

HEADER = ",".join(COLUMNS)
ROWS = [
    "A09000000E,行政院人事行政總處,Directorate-General of Personnel Administration,100,臺北市中正區濟南路1段2-2號,"
    "02-23979298,A00000000A,行政院,02-23975565,20120206,,2,,,",
    "376610000A,臺南市政府,Tainan City Government,708,臺南市安平區永華路2段6號,06-2991111,,,,20101225,,1,,,",
    "379000000A,臺北縣政府,,220,,,,,,19500101,20101225,1,是,382000000A,新北市政府",
    "382000000A,新北市政府,New Taipei City Government,220,,,,,,20101225,,1,,,",
]


def big5(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("cp950")


def test_big5_file_loads() -> None:
    result = load_orglist(big5([HEADER, *ROWS]))
    assert result.rows == 4 and not result.problems
    dgpa = result.directory.get("A09000000E")
    assert dgpa is not None and dgpa.name == "行政院人事行政總處" and dgpa.parent_code == "A00000000A"
    taipei_county = result.directory.get("379000000A")
    assert (
        taipei_county is not None and taipei_county.abolished and taipei_county.successor_code == "382000000A"
    )
    assert not result.directory.get("382000000A").abolished  # type: ignore[union-attr]


def test_malformed_rows_are_reported_with_line_numbers_and_the_rest_loads() -> None:
    lines = [
        HEADER,
        ROWS[0],
        "BAD,壞代碼" + "," * 13,
        "376610000A,臺南市政府",
        ROWS[3],
        "A07000000E,," + "," * 12,
    ]
    result = load_orglist(big5(lines))
    assert result.rows == 2
    assert [(p.line, p.reason.split(" ")[0]) for p in result.problems] == [
        (3, "agency"),
        (4, "expected"),
        (6, "agency"),
    ]


def test_utf8_with_bom_and_not_a_text_file() -> None:
    assert load_orglist(("\ufeff" + HEADER + "\n" + ROWS[1] + "\n").encode("utf-8")).rows == 1
    with pytest.raises(OrgListError):
        load_orglist(b"\xff\xfe\xfd\x80\x81" * 10)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_the_parse_error(data: bytes) -> None:
    try:
        load_orglist(data)
    except OrgListError:
        pass


def test_resolver_strategies(fixture_set: FixtureSet) -> None:
    directory = load_orglist(big5([HEADER, *ROWS])).directory
    cert = fixture_set.issued("agency-dgpa").parsed()
    # By name (the certificate's agency OU is in the file exactly once).
    assert AgencyResolver(directory).agency_for(cert).code == "A09000000E"
    # Name matching off and no mapping: unknown.
    with pytest.raises(AgencyCodeUnknown):
        AgencyResolver(directory, match_names=False).agency_for(cert)
    # An OID map wins over the name.
    assert (
        AgencyResolver(directory, oid_map={cert.agency_oid: "376610000A"}).agency_for(cert).code
        == "376610000A"
    )  # type: ignore[dict-item]
    assert (
        AgencyResolver(directory, match_names=False, serial_map={cert.subject_serial: "376610000A"})
        .agency_for(cert)
        .code
        == "376610000A"
    )  # type: ignore[dict-item]
    # Mapped to an abolished agency: refused, or its successor by configuration.
    abolished = {cert.agency_oid: "379000000A"}
    with pytest.raises(AgencyAbolished):
        AgencyResolver(directory, oid_map=abolished).agency_for(cert)  # type: ignore[arg-type]
    successor = AgencyResolver(directory, oid_map=abolished, abolished="successor")  # type: ignore[arg-type]
    assert successor.agency_for(cert).code == "382000000A"
    # Mapped to a code missing from the file: the manual's error names the code.
    with pytest.raises(AgencyCodeUnknown) as info:
        AgencyResolver(MemoryAgencyDirectory(), oid_map={cert.agency_oid: "Z00000000Z"}).agency_for(cert)  # type: ignore[dict-item]
    assert "Z00000000Z" in info.value.message


def test_bom_followed_by_invalid_utf8_is_an_orglist_error() -> None:
    # The BOM branch decoded without a handler and raised UnicodeDecodeError.
    with pytest.raises(OrgListError, match="byte-order mark"):
        load_orglist(b"\xef\xbb\xbf\xff")


@pytest.mark.parametrize("source", [None, 42, ["a,b"]])
def test_wrong_python_type_is_a_type_error(source: object) -> None:
    with pytest.raises(TypeError, match="bytes, a path or a binary file"):
        load_orglist(source)  # type: ignore[arg-type]


def test_a_text_mode_file_is_a_type_error(tmp_path: Path) -> None:
    path = tmp_path / "orglist.csv"
    path.write_bytes(big5([HEADER, *ROWS]))
    with path.open(encoding="cp950") as text_file, pytest.raises(TypeError, match="binary mode"):
        load_orglist(text_file)  # type: ignore[arg-type]


def test_bytearray_and_binary_file_load_like_bytes(tmp_path: Path) -> None:
    data = big5([HEADER, *ROWS])
    path = tmp_path / "orglist.csv"
    path.write_bytes(data)
    with path.open("rb") as binary:
        from_file = load_orglist(binary)
    assert load_orglist(bytearray(data)).rows == from_file.rows == load_orglist(data).rows == 4


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_files_only_raise_the_parse_error(data: st.DataObject) -> None:
    seed = data.draw(
        st.sampled_from([big5([HEADER, *ROWS]), ("\ufeff" + "\n".join([HEADER, *ROWS])).encode("utf-8")])
    )
    mutated = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        if data.draw(st.booleans()):
            mutated[pos] = data.draw(st.sampled_from([0x00, 0x22, 0x2C, 0x0A, 0x0D, 0x80, 0xA4, 0xFF]))
        else:
            del mutated[pos : pos + data.draw(st.integers(1, 20))]
        if not mutated:
            break
    try:
        load_orglist(bytes(mutated))
    except OrgListError:
        pass
