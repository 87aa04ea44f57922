"""A minimal strict DER reader for the two things no library gives fast enough at login.

* subjectDirectoryAttributes (2.5.29.9), ``SEQUENCE OF SEQUENCE { OID, SET OF ANY }``: asn1crypto
  decodes it correctly but takes ~110 µs per certificate, more than an RSA verification;
  this reads just that shape in a few µs.
* The raw issuer and subject Name encodings of a certificate, for name chaining by bytes, and
  its tbsCertificate bytes: :mod:`cryptography` exposes names only through ``Name`` objects that
  cost ~30 µs each, and re-encodes the TBS (~10 µs) on every ``tbs_certificate_bytes``.

``tests/twcert/test_der.py`` checks both against asn1crypto/cryptography on generated inputs.
Anything unexpected raises :class:`ValueError`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

__all__ = ["certificate_names", "decode_oid", "name_attributes", "read_subject_directory_attributes"]

# The ASCII-only string types decode as UTF-8 (a superset), as cryptography does: some issuers
# put non-ASCII bytes in a PrintableString and a login must not fail on that alone.
_STRING_TAGS: Final = {
    0x0C: "utf-8",  # UTF8String
    0x13: "utf-8",  # PrintableString
    0x16: "utf-8",  # IA5String
    0x1A: "utf-8",  # VisibleString
    0x12: "utf-8",  # NumericString
    0x14: "latin-1",  # TeletexString (as asn1crypto decodes it)
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Read one TLV header at ``pos``; return (tag, content start, content end)."""
    if pos + 2 > end:
        raise ValueError("truncated TLV header")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not used here")
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("bad length encoding")
        length = int.from_bytes(buf[pos : pos + count], "big")
        if length < 0x80 or (count > 1 and buf[pos] == 0):
            raise ValueError("non-minimal length (not DER)")
        pos += count
    if pos + length > end:
        raise ValueError("content runs past its container")
    return tag, pos, pos + length


@lru_cache(maxsize=512)  # the same few GPKI OIDs recur in every certificate
def decode_oid(body: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets."""
    if not body or body[-1] & 0x80:
        raise ValueError("truncated OID")
    arcs: list[int] = []
    value = 0
    for i, byte in enumerate(body):
        if value == 0 and byte == 0x80 and (i == 0 or not body[i - 1] & 0x80):
            raise ValueError("non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else ([1, first - 40] if first < 80 else [2, first - 80])
    return ".".join(str(a) for a in head + arcs[1:])


def _value_text(tag: int, raw: bytes, whole: bytes) -> str:
    if tag == 0x06:
        return decode_oid(raw)
    encoding = _STRING_TAGS.get(tag)
    if encoding is None:
        return whole.hex()
    return raw.decode(encoding)


def read_subject_directory_attributes(buf: bytes) -> dict[str, list[str]]:
    """Decode the extension value; every attribute value becomes text (OIDs dotted, strings
    decoded, anything else the hex of its encoding)."""
    tag, pos, end = _header(buf, 0, len(buf))
    if tag != 0x30 or end != len(buf):
        raise ValueError("not a single SEQUENCE")
    result: dict[str, list[str]] = {}
    while pos < end:
        tag, apos, aend = _header(buf, pos, end)
        if tag != 0x30:
            raise ValueError("attribute is not a SEQUENCE")
        tag, opos, oend = _header(buf, apos, aend)
        if tag != 0x06:
            raise ValueError("attribute type is not an OID")
        oid = decode_oid(buf[opos:oend])
        tag, spos, send = _header(buf, oend, aend)
        if tag != 0x31 or send != aend:
            raise ValueError("attribute values are not one SET")
        values = result.setdefault(oid, [])
        while spos < send:
            vtag, vpos, vend = _header(buf, spos, send)
            values.append(_value_text(vtag, buf[vpos:vend], buf[spos:vend]))
            spos = vend
        pos = aend
    return result


def certificate_names(der: bytes) -> tuple[bytes, bytes, bytes]:
    """(issuer, subject, tbsCertificate) encodings of a DER certificate, as they appear in it."""
    tag, pos, end = _header(der, 0, len(der))
    if tag != 0x30:
        raise ValueError("certificate is not a SEQUENCE")
    tbs_start = pos
    tag, pos, tbs_end = _header(der, pos, end)
    if tag != 0x30:
        raise ValueError("tbsCertificate is not a SEQUENCE")
    fields: list[tuple[int, int]] = []
    while pos < tbs_end and len(fields) < 6:
        tag, _content, stop = _header(der, pos, tbs_end)
        if not fields and tag == 0xA0:  # explicit version: not one of the counted fields
            pos = stop
            continue
        fields.append((pos, stop))
        pos = stop
    if len(fields) < 5:
        raise ValueError("tbsCertificate too short")
    # serialNumber, signature, issuer, validity, subject
    (issuer_start, issuer_stop), (subject_start, subject_stop) = fields[2], fields[4]
    return der[issuer_start:issuer_stop], der[subject_start:subject_stop], der[tbs_start:tbs_end]


def name_attributes(name: bytes) -> list[tuple[str, str]]:
    """(attribute OID, text) pairs of a DER Name, in order: its RDNs flattened.

    Only the attributes GPKI names use are needed by the login path (CN, OU, O, serialNumber);
    strings decode by their ASN.1 type, anything else becomes the hex of its encoding.
    """
    tag, pos, end = _header(name, 0, len(name))
    if tag != 0x30 or end != len(name):
        raise ValueError("Name is not a single SEQUENCE")
    pairs: list[tuple[str, str]] = []
    while pos < end:
        tag, rpos, rend = _header(name, pos, end)
        if tag != 0x31:
            raise ValueError("RDN is not a SET")
        while rpos < rend:
            tag, apos, aend = _header(name, rpos, rend)
            if tag != 0x30:
                raise ValueError("attribute is not a SEQUENCE")
            tag, opos, oend = _header(name, apos, aend)
            if tag != 0x06:
                raise ValueError("attribute type is not an OID")
            vtag, vpos, vend = _header(name, oend, aend)
            if vend != aend:
                raise ValueError("trailing data in an attribute")
            pairs.append((decode_oid(name[opos:oend]), _value_text(vtag, name[vpos:vend], name[oend:vend])))
            rpos = aend
        pos = rend
    return pairs
