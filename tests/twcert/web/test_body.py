"""Request bodies: the limit holds before anything is buffered, and any bytes parse or are refused
with the library's own error."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twcert.errors import ResponseParseError
from twcert.web.body import DEFAULT_MAX_BODY, lazy_body, parse_body, read_body
from twcert.web.errors import RequestTooLargeError


class CountingStream(io.BytesIO):
    """Remembers how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def test_the_default_limit_is_64_kib() -> None:
    assert DEFAULT_MAX_BODY == 65536


def test_a_declared_length_over_the_limit_is_refused_without_reading() -> None:
    stream = CountingStream(b"x" * 1000)
    with pytest.raises(RequestTooLargeError) as info:
        read_body(stream, str(64 * 1024 * 1024), limit=100)
    assert stream.taken == 0
    assert info.value.http_status == 413 and info.value.code == "REQUEST_TOO_LARGE"


def test_a_body_without_length_is_read_one_byte_past_the_limit_at_most() -> None:
    stream = CountingStream(b"x" * 10_000_000)
    with pytest.raises(RequestTooLargeError):
        read_body(stream, None, limit=1000)
    assert stream.taken == 1001


def test_a_lying_length_reads_only_what_it_declared() -> None:
    stream = CountingStream(b"y" * 5000)
    assert read_body(stream, "10", limit=100) == b"y" * 10
    assert stream.taken == 10


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_bad_content_length_is_a_parse_error(length: str) -> None:
    with pytest.raises(ResponseParseError):
        read_body(io.BytesIO(b""), length)


def test_exactly_the_limit_is_accepted() -> None:
    assert read_body(io.BytesIO(b"z" * 100), None, limit=100) == b"z" * 100


def test_json_and_forms() -> None:
    assert parse_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert parse_body(b"a=1&b=%E7%8E%8B", "application/x-www-form-urlencoded") == {"a": "1", "b": "王"}
    assert parse_body(b"", None) == {}
    for data, kind in ((b"[1]", "application/json"), (b"x", "multipart/form-data; boundary=x")):
        with pytest.raises(ResponseParseError):
            parse_body(data, kind)


def test_lazy_body_reads_once() -> None:
    stream = CountingStream(json.dumps({"k": "v"}).encode())
    body = lazy_body(stream, None, "application/json")
    assert body() == {"k": "v"} and body() == {"k": "v"}
    assert stream.taken == len(b'{"k": "v"}')


@given(
    st.binary(max_size=300),
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "", "text/plain"]),
)
def test_any_bytes_parse_or_raise_the_librarys_error(data: bytes, kind: str) -> None:
    try:
        result = parse_body(data, kind)
    except ResponseParseError:
        return
    # Anything else the library raises, or any foreign exception, fails the test.
    assert isinstance(result, dict)
