"""A minimal strict DER reader for the things no library gives fast enough at login.

* subjectDirectoryAttributes (2.5.29.9), ``SEQUENCE OF SEQUENCE { OID, SET OF ANY }``: asn1crypto
  decodes it correctly but takes ~110 µs per certificate, more than an RSA verification;
  this reads just that shape in a few µs.
* The raw issuer and subject Name encodings of a certificate, for name chaining by bytes, and
  its tbsCertificate bytes: :mod:`cryptography` exposes names only through ``Name`` objects that
  cost ~30 µs each, and re-encodes the TBS (~10 µs) on every ``tbs_certificate_bytes``.
* The fields of a CMS SignedData (RFC 5652 §5) that the login signature checks read: asn1crypto
  takes ~150 µs to reach them, this ~25 µs. Only DER in the exact RFC 5652 shape is read;
  :mod:`twcert.signature` hands anything else (BER, unusual attributes) to asn1crypto.

* The one TLV reader (:func:`read_header`, :func:`read_tlv`) and the one time parser
  (:func:`parse_time`) of the package: :mod:`twcert.signature` and
  :mod:`twcert.revocation.crl_index` read DER with these and nothing else.

``tests/twcert/test_der.py`` checks them against asn1crypto/cryptography on generated inputs.
Anything unexpected raises :class:`DERError` (a :class:`ValueError`); callers turn it into
their own :class:`~twcert.errors.ParseError`. Bounds keep every reader linear in its input:
lengths of at most 4 bytes, OIDs of at most :data:`MAX_OID_ARCS` arcs of at most
:data:`MAX_OID_ARC_BYTES` bytes each.
"""

from __future__ import annotations

import datetime as dt
import mmap
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeAlias

__all__ = [
    "GENERALIZED_TIME",
    "MAX_OID_ARCS",
    "MAX_OID_ARC_BYTES",
    "UTC_TIME",
    "Buffer",
    "DERError",
    "SignedDataParts",
    "SignerInfoParts",
    "certificate_names",
    "check_oid_bounds",
    "decode_oid",
    "name_attributes",
    "parse_time",
    "read_header",
    "read_signed_data",
    "read_subject_directory_attributes",
    "read_tlv",
]

#: What the readers take: indexing gives an int, slicing gives bytes-like (a mapped file works).
Buffer: TypeAlias = "bytes | bytearray | memoryview | mmap.mmap"

UTC_TIME: Final = 0x17
GENERALIZED_TIME: Final = 0x18
#: An OID with more arcs is refused (real ones have under 20).
MAX_OID_ARCS: Final = 64
#: An arc longer than this many base-128 digits (140 bits) is refused: 2.25 UUID arcs (128
#: bits) fit, while an unbounded arc makes decoding quadratic in its length.
MAX_OID_ARC_BYTES: Final = 20


class DERError(ValueError):
    """The bytes are not the DER this module reads (a ValueError, so existing handlers apply)."""


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


def read_header(buf: Buffer, pos: int, end: int) -> tuple[int, int, int]:
    """Read the TLV at ``pos``, which must lie within ``buf[:end]``; return (tag, content start,
    content end).

    Low tag numbers only and definite, minimal (DER) lengths of at most 4 bytes.
    :raises DERError: anything else, or content running past ``end``.
    """
    if pos + 2 > end:
        raise DERError(f"truncated TLV header at {pos}")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DERError(f"high tag number at {pos}")
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise DERError(f"bad length encoding at {pos - 1}")
        length = int.from_bytes(buf[pos : pos + count], "big")
        if length < 0x80 or (count > 1 and buf[pos] == 0):
            raise DERError(f"non-minimal length (not DER) at {pos - 1}")
        pos += count
    if pos + length > end:
        raise DERError(f"content at {pos} runs past its container")
    return tag, pos, pos + length


_header: Final = read_header


def parse_time(tag: int, content: Buffer) -> dt.datetime:
    """A UTC datetime from the content octets of a DER UTCTime ``YYMMDDHHMMSSZ`` (years 50–99
    are 19xx) or GeneralizedTime ``YYYYMMDDHHMMSSZ``: the forms RFC 5280 §4.1.2.5 allows.

    Any year 0001–9999 is read (``99991231235959Z`` means "no well-defined expiry", RFC 5280
    §4.1.2.5); adding to it can overflow, so callers compare rather than add.
    :raises DERError: another tag, another form (offsets, fractions, missing seconds) or an
        impossible date.
    """
    raw = bytes(content)
    # One int() and divmods, positional tzinfo: about 1 µs (CRL lookups call this).
    if tag == UTC_TIME and len(raw) == 13 and raw[12] == 0x5A and raw[:12].isdigit():
        value = int(raw[:12])
        century = 1900 if value >= 50_0000000000 else 2000
    elif tag == GENERALIZED_TIME and len(raw) == 15 and raw[14] == 0x5A and raw[:14].isdigit():
        value = int(raw[:14])
        century = 0
    else:
        raise DERError(f"unsupported time encoding {bytes((tag & 0xFF,)).hex()}:{raw[:32].hex()}")
    value, second = divmod(value, 100)
    value, minute = divmod(value, 100)
    value, hour = divmod(value, 100)
    value, day = divmod(value, 100)
    year, month = divmod(value, 100)
    try:
        return _datetime(century + year, month, day, hour, minute, second, 0, _UTC)
    except ValueError as exc:
        raise DERError(f"invalid date {raw!r}: {exc}") from None


_datetime: Final = dt.datetime
_UTC: Final = dt.UTC


@lru_cache(maxsize=512)  # the same few GPKI OIDs recur in every certificate
def decode_oid(body: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets.

    :raises DERError: empty, truncated or non-minimal, or beyond :data:`MAX_OID_ARCS` arcs or
        :data:`MAX_OID_ARC_BYTES` bytes in one arc.
    """
    if not body or body[-1] & 0x80:
        raise DERError("truncated OID")
    if len(body) > MAX_OID_ARCS * MAX_OID_ARC_BYTES:
        raise DERError(f"OID of {len(body)} bytes is too long")
    arcs: list[int] = []
    value = 0
    size = 0
    for i, byte in enumerate(body):
        if value == 0 and byte == 0x80 and (i == 0 or not body[i - 1] & 0x80):
            raise DERError("non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        size += 1
        if not byte & 0x80:
            arcs.append(value)
            value = 0
            size = 0
        elif size >= MAX_OID_ARC_BYTES:
            raise DERError(f"OID arc longer than {MAX_OID_ARC_BYTES} bytes")
    if len(arcs) + 1 > MAX_OID_ARCS:  # the first subidentifier holds two arcs
        raise DERError(f"OID of {len(arcs) + 1} arcs has more than {MAX_OID_ARCS}")
    first = arcs[0]
    head = [0, first] if first < 40 else ([1, first - 40] if first < 80 else [2, first - 80])
    return ".".join(str(a) for a in head + arcs[1:])


def check_oid_bounds(buf: bytes) -> None:
    """Walk a BER encoding (definite or indefinite lengths) and check every universal OBJECT
    IDENTIFIER in it against :func:`decode_oid`'s bounds, before a general decoder (asn1crypto) sees it:
    its OID decoding is quadratic in an arc's length.

    Structure this walk cannot read is skipped (to the end of the enclosing element, or the
    walk stops), not refused: the decoder that follows judges it, so its verdict on anything
    but an oversized OID stays its own.

    :raises DERError: an OID beyond the bounds (only that).
    """
    size = len(buf)
    ends: list[int | None] = []  # the end of each open constructed element; None: indefinite
    pos = 0
    while True:
        while ends and ends[-1] is not None and pos >= ends[-1]:
            ends.pop()
        if pos >= size:
            return
        if ends and ends[-1] is None and buf[pos : pos + 2] == b"\x00\x00":  # end-of-contents
            ends.pop()
            pos += 2
            continue
        header = _ber_header(buf, pos, size)
        limit = next((e for e in reversed(ends) if e is not None), size)
        if header is None or (header[2] is not None and header[2] > limit):
            # Unreadable here: resume after the innermost element of known length, if any.
            while ends and ends[-1] is None:
                ends.pop()
            if not ends:
                return
            resume = ends.pop()
            assert resume is not None
            pos = resume
            continue
        tag, start, end = header
        if tag & 0x20:
            ends.append(end)
            pos = start
        elif end is None:
            return  # indefinite length on a primitive element: not BER
        else:
            if tag == 0x06:
                _check_oid_size(buf[start:end])
            pos = end


def _check_oid_size(body: bytes) -> None:
    """:func:`decode_oid`'s bounds alone (a malformed but small OID is the decoder's to judge)."""
    if len(body) > MAX_OID_ARCS * MAX_OID_ARC_BYTES:
        raise DERError(f"OID of {len(body)} bytes is too long")
    run = arcs = 0
    for byte in body:
        if byte & 0x80:
            run += 1
            if run >= MAX_OID_ARC_BYTES:
                raise DERError(f"OID arc longer than {MAX_OID_ARC_BYTES} bytes")
        else:
            run = 0
            arcs += 1
    if arcs + 1 > MAX_OID_ARCS:
        raise DERError(f"OID of {arcs + 1} arcs has more than {MAX_OID_ARCS}")


def _ber_header(buf: bytes, pos: int, size: int) -> tuple[int, int, int | None] | None:
    """(tag, content start, content end or None when indefinite) of the BER header at ``pos``."""
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number: base-128 digits
        while pos < size and buf[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= size:
        return None
    length = buf[pos]
    pos += 1
    if length == 0x80:
        return tag, pos, None
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > size:
            return None
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    return tag, pos, pos + length


def _value_text(tag: int, raw: bytes, whole: bytes) -> str:
    if tag == 0x06:
        return decode_oid(raw)
    encoding = _STRING_TAGS.get(tag)
    if encoding is None:
        return whole.hex()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DERError(f"string of tag {tag:#04x} is not valid {encoding}") from exc


def read_subject_directory_attributes(buf: bytes) -> dict[str, list[str]]:
    """Decode the extension value; every attribute value becomes text (OIDs dotted, strings
    decoded, anything else the hex of its encoding)."""
    tag, pos, end = _header(buf, 0, len(buf))
    if tag != 0x30 or end != len(buf):
        raise DERError("not a single SEQUENCE")
    result: dict[str, list[str]] = {}
    while pos < end:
        tag, apos, aend = _header(buf, pos, end)
        if tag != 0x30:
            raise DERError("attribute is not a SEQUENCE")
        tag, opos, oend = _header(buf, apos, aend)
        if tag != 0x06:
            raise DERError("attribute type is not an OID")
        oid = decode_oid(buf[opos:oend])
        tag, spos, send = _header(buf, oend, aend)
        if tag != 0x31 or send != aend:
            raise DERError("attribute values are not one SET")
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
        raise DERError("certificate is not a SEQUENCE")
    tbs_start = pos
    tag, pos, tbs_end = _header(der, pos, end)
    if tag != 0x30:
        raise DERError("tbsCertificate is not a SEQUENCE")
    fields: list[tuple[int, int]] = []
    while pos < tbs_end and len(fields) < 6:
        tag, _content, stop = _header(der, pos, tbs_end)
        if not fields and tag == 0xA0:  # explicit version: not one of the counted fields
            pos = stop
            continue
        fields.append((pos, stop))
        pos = stop
    if len(fields) < 5:
        raise DERError("tbsCertificate too short")
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
        raise DERError("Name is not a single SEQUENCE")
    pairs: list[tuple[str, str]] = []
    while pos < end:
        tag, rpos, rend = _header(name, pos, end)
        if tag != 0x31:
            raise DERError("RDN is not a SET")
        while rpos < rend:
            tag, apos, aend = _header(name, rpos, rend)
            if tag != 0x30:
                raise DERError("attribute is not a SEQUENCE")
            tag, opos, oend = _header(name, apos, aend)
            if tag != 0x06:
                raise DERError("attribute type is not an OID")
            vtag, vpos, vend = _header(name, oend, aend)
            if vend != aend:
                raise DERError("trailing data in an attribute")
            pairs.append((decode_oid(name[opos:oend]), _value_text(vtag, name[vpos:vend], name[oend:vend])))
            rpos = aend
        pos = rend
    return pairs


# -- CMS SignedData (RFC 5652) ---------------------------------------------------------------------

_SIGNED_DATA: Final = "1.2.840.113549.1.7.2"


@dataclass(frozen=True, slots=True)
class SignerInfoParts:
    """One SignerInfo: encodings and values exactly as they appear in the DER."""

    #: issuerAndSerialNumber (the issuer Name's encoding and the serial), or
    #: subjectKeyIdentifier — exactly one of the two forms is set.
    issuer: bytes | None
    serial_number: int | None
    key_identifier: bytes | None
    digest_algorithm: str
    #: The whole ``[0] IMPLICIT`` signedAttrs element (None if absent).
    signed_attrs: bytes | None
    #: (attribute type, the encodings of its values), in order.
    attributes: tuple[tuple[str, tuple[bytes, ...]], ...]
    signature_algorithm: str
    #: The encoding of the signatureAlgorithm parameters (None if absent).
    signature_parameters: bytes | None
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedDataParts:
    """A ContentInfo holding SignedData, as far as a signature check reads it."""

    content_type: str
    #: The attached eContent (None when detached).
    content: bytes | None
    #: The encodings of the ``certificate`` choices of the certificates field, in order
    #: (other CertificateChoices are skipped).
    certificates: tuple[bytes, ...]
    signer_count: int
    #: The SignerInfo when there is exactly one (the others are not read).
    signer: SignerInfoParts | None


def read_tlv(encoded: bytes) -> tuple[int, bytes]:
    """The tag and content octets of ``encoded``, which must be exactly one DER TLV.

    :raises DERError: not exactly one TLV as :func:`read_header` reads it.
    """
    tag, pos, end = _header(encoded, 0, len(encoded))
    if end != len(encoded):
        raise DERError("trailing data after the TLV")
    return tag, encoded[pos:end]


def _elements(buf: bytes, pos: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, start, content start, content end) of each TLV in ``buf[pos:end]``."""
    out = []
    while pos < end:
        # Inline the common case (low tag number, short-form length); _header does the rest.
        if pos + 2 <= end and buf[pos + 1] < 0x80 and buf[pos] & 0x1F != 0x1F:
            tag, cpos = buf[pos], pos + 2
            cend = cpos + buf[pos + 1]
            if cend > end:
                raise DERError("content runs past its container")
        else:
            tag, cpos, cend = _header(buf, pos, end)
        out.append((tag, pos, cpos, cend))
        pos = cend
    return out


def _tags(elements: list[tuple[int, int, int, int]]) -> list[int]:
    return [element[0] for element in elements]


def _algorithm(buf: bytes, start: int, end: int) -> tuple[str, bytes | None]:
    """AlgorithmIdentifier: the OID and the encoding of the parameters, if any."""
    fields = _elements(buf, start, end)
    if not 1 <= len(fields) <= 2 or fields[0][0] != 0x06:
        raise DERError("AlgorithmIdentifier is not { OID, parameters OPTIONAL }")
    params = buf[fields[1][1] : fields[1][3]] if len(fields) == 2 else None
    return decode_oid(buf[fields[0][2] : fields[0][3]]), params


def _integer(buf: bytes, start: int, end: int) -> int:
    if start == end:
        raise DERError("empty INTEGER")
    return int.from_bytes(buf[start:end], "big", signed=True)


def _only(buf: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """The content bounds of the one TLV, of ``tag``, that fills ``buf[pos:end]`` exactly."""
    found, cpos, cend = _header(buf, pos, end)
    if found != tag or cend != end:
        raise DERError(f"{what} is not one element of tag {tag:#04x}")
    return cpos, cend


def read_signed_data(data: bytes) -> SignedDataParts:
    """Read a DER ContentInfo { id-signedData, [0] EXPLICIT SignedData } with nothing after it.

    Every field must carry the tag RFC 5652 gives it and every length must be DER; the
    encapsulated content, when present, must be one primitive OCTET STRING.
    """
    pos, end = _only(data, 0, len(data), 0x30, "ContentInfo")
    tag, opos, oend = _header(data, pos, end)
    if tag != 0x06:
        raise DERError("ContentInfo has no content type")
    pos, end = _only(data, oend, end, 0xA0, "ContentInfo content")
    if decode_oid(data[opos:oend]) != _SIGNED_DATA:
        raise DERError("content type is not id-signedData")
    pos, end = _only(data, pos, end, 0x30, "SignedData")
    fields = _elements(data, pos, end)
    tags = _tags(fields)
    if len(tags) < 4 or tags[:3] != [0x02, 0x31, 0x30] or tags[-1] != 0x31:
        raise DERError("SignedData is not { version, digestAlgorithms, encapContentInfo, …, signerInfos }")
    optional = tags[3:-1]
    if optional not in ([], [0xA0], [0xA1], [0xA0, 0xA1]):
        raise DERError("unexpected SignedData field")
    _integer(data, fields[0][2], fields[0][3])  # version: read by the CMS/PKCS#7 spec choice

    pos, end = fields[2][2], fields[2][3]
    tag, opos, oend = _header(data, pos, end)
    if tag != 0x06:
        raise DERError("EncapsulatedContentInfo has no content type")
    content_type = decode_oid(data[opos:oend])
    content = None
    if oend < end:
        pos, end = _only(data, oend, end, 0xA0, "eContent")
        pos, end = _only(data, pos, end, 0x04, "eContent OCTET STRING")
        content = data[pos:end]

    certificates: list[bytes] = []
    if 0xA0 in optional:
        for ctag, cstart, _cpos, cend in _elements(data, fields[3][2], fields[3][3]):
            if ctag == 0x30:
                certificates.append(data[cstart:cend])
            elif ctag not in (0xA0, 0xA1, 0xA2, 0xA3):  # the other CertificateChoices
                raise DERError("unexpected CertificateChoices element")

    signers = _elements(data, fields[-1][2], fields[-1][3])
    signer = None
    if len(signers) == 1:
        if signers[0][0] != 0x30:
            raise DERError("SignerInfo is not a SEQUENCE")
        signer = _signer_info(data, signers[0][2], signers[0][3])
    return SignedDataParts(content_type, content, tuple(certificates), len(signers), signer)


def _signer_info(data: bytes, start: int, end: int) -> SignerInfoParts:
    fields = _elements(data, start, end)
    tags = _tags(fields)
    # version, sid, digestAlgorithm, [0] signedAttrs OPTIONAL, signatureAlgorithm, signature,
    # [1] unsignedAttrs OPTIONAL
    if tags[-1:] == [0xA1]:
        fields, tags = fields[:-1], tags[:-1]
    if len(tags) == 6 and tags[3] == 0xA0:
        attrs_field = fields[3]
        fields, tags = fields[:3] + fields[4:], tags[:3] + tags[4:]
    else:
        attrs_field = None
    if len(tags) != 5 or tags[0] != 0x02 or tags[1] not in (0x30, 0x80) or tags[2:] != [0x30, 0x30, 0x04]:
        raise DERError("SignerInfo fields are not the RFC 5652 ones")
    _integer(data, fields[0][2], fields[0][3])

    issuer = serial = key_identifier = None
    sid_tag, _sid_start, sid_pos, sid_end = fields[1]
    if sid_tag == 0x30:
        tag, _npos, nend = _header(data, sid_pos, sid_end)
        if tag != 0x30:
            raise DERError("IssuerAndSerialNumber has no issuer Name")
        issuer = data[sid_pos:nend]
        serial = _integer(data, *_only(data, nend, sid_end, 0x02, "IssuerAndSerialNumber serial"))
    else:
        key_identifier = data[sid_pos:sid_end]

    digest_algorithm, _params = _algorithm(data, fields[2][2], fields[2][3])
    signature_algorithm, signature_parameters = _algorithm(data, fields[3][2], fields[3][3])

    signed_attrs = None
    attributes: list[tuple[str, tuple[bytes, ...]]] = []
    if attrs_field is not None:
        signed_attrs = data[attrs_field[1] : attrs_field[3]]
        pos, end = attrs_field[2], attrs_field[3]
        while pos < end:
            tag, apos, aend = _header(data, pos, end)
            if tag != 0x30:
                raise DERError("Attribute is not a SEQUENCE")
            tag, opos, oend = _header(data, apos, aend)
            if tag != 0x06:
                raise DERError("attribute type is not an OID")
            tag, spos, send = _header(data, oend, aend)
            if tag != 0x31 or send != aend:
                raise DERError("attribute values are not one SET")
            values = tuple(data[vstart:vend] for _vtag, vstart, _vpos, vend in _elements(data, spos, send))
            attributes.append((decode_oid(data[opos:oend]), values))
            pos = aend
    return SignerInfoParts(
        issuer=issuer,
        serial_number=serial,
        key_identifier=key_identifier,
        digest_algorithm=digest_algorithm,
        signed_attrs=signed_attrs,
        attributes=tuple(attributes),
        signature_algorithm=signature_algorithm,
        signature_parameters=signature_parameters,
        signature=data[fields[4][2] : fields[4][3]],
    )
