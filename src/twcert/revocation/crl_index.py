"""A compact, verified index of one certificate revocation list (CRL).

:meth:`CRLIndex.from_der` checks a DER CRL against its issuing CA certificate (issuer name,
authority key identifier, cRLSign, signature, critical extensions, scope) and indexes its
revoked serial numbers. :meth:`CRLIndex.save` and :meth:`CRLIndex.open` put the index in a file
that several worker processes map read-only and so share.

Design (targets: a million entries ingested in ≤ 1.5 s, looked up in ≤ 5 µs, in ≤ 64 MiB
beyond the DER; measured figures in ``docs/benchmarks-crl.md``)
------------------------------------------------------------------------------------------

* **Parse and signature.** :func:`cryptography.x509.load_der_x509_crl` parses the whole CRL in
  Rust, strictly: DER only, minimal integers and lengths, valid dates, *every entry*. It does
  not materialise the entries; it keeps a reference to the DER. The CRL header (issuer, dates,
  extensions) comes from it alone. ``is_signature_valid`` re-encodes the whole tbsCertList
  before hashing it: 0.3–0.9 s for a million entries, where hashing them takes 30 ms. So for
  RSA PKCS#1 v1.5 and ECDSA the signature is checked here over the tbsCertList bytes as
  received. Strict DER has one encoding, and those are the bytes the CA signed. Other
  algorithms use ``is_signature_valid``. The CRL object is dropped after ingest; its per-entry
  list, which ``__getitem__`` builds, is never touched.
* **Walk.** Iterating entries through cryptography costs over 1 µs each (asn1crypto about
  10 µs). Instead, a minimal loop follows the entry lengths through the revokedCertificates
  SEQUENCE that cryptography has already validated. It hashes each entry's serial-number DER
  bytes and keeps the extension bytes of the entries that have any. Each distinct extension
  encoding is checked once: a reasonCode-only block has one of ten encodings. Unknown critical
  extensions, certificateIssuer (indirect CRLs), bad reason codes and duplicates are refused.
  Revocation dates, reasons and invalidity dates are decoded from the DER only for the entry
  a lookup finds. Differential tests (``tests/twcert/revocation/test_crl_index.py``) check
  that the walk extracts exactly what cryptography iterates, odd encodings included.
* **Index.** An open-addressing hash table (linear probing) holds ``array('I')`` entry
  offsets, at load ≤ 0.5: 8 bytes per entry, so a million entries take 8 MiB. A Python ``set``
  of the serials costs about 80 bytes per entry, and a dict of dates about 230. The slot is the
  CRC-32 of the serial's DER encoding modulo the table size. A lookup probes about 1.5
  occupied slots on average and compares the full serial bytes in the DER at each. So a
  collision costs one compare and never gives a wrong answer. A lookup is O(1) expected,
  whatever the size. Building the table needs no sort, which is why it beats a sorted
  array + ``bisect``: sorting a million keys costs 0.3–0.6 s here. Structured serials
  (sequential, counter-in-high-bits, negative) probe as evenly as random ones.
* **Shared file.** The file holds a header, JSON metadata (the CRL's, plus the caller's
  annotations such as its URL and ETag), the table, then the CRL's DER. The table and the DER
  are used in place through :class:`mmap.mmap`, so N workers share one copy in the page cache.
  :meth:`CRLIndex.open` trusts nothing it cannot check. With a deployment ``key`` the header
  carries an HMAC-SHA256 over the header, the metadata (CRL number and SHA-256 included), the
  annotations and the table, and the DER must hash to that SHA-256. Without a key the header
  digest is plain SHA-256 (it catches corruption, not forgery), so ``open`` needs the issuing
  CA: it verifies the stored CRL's signature again, rebuilds the table from it and refuses a
  file whose table or metadata differ. That costs about an ingest; the keyed check costs a
  hash of the file. Files are opened without following symlinks.

Serial numbers are compared as their minimal two's-complement DER encodings. So zero and
negative serials, which broken CAs issue, and serials longer than 20 octets all work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import mmap
import os
import stat
import struct
import sys
import tempfile
import zlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TypeAlias, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from .._der import GENERALIZED_TIME, UTC_TIME, parse_time, read_header
from ..certificate import TaiwanCertificate, key_identifier
from ..errors import RevocationDataError

__all__ = ["DEFAULT_MAX_BYTES", "CRLIndex", "CRLMetadata", "RevokedEntry"]

_Buffer: TypeAlias = "bytes | mmap.mmap"
_ExtCache: TypeAlias = "dict[bytes, tuple[x509.ReasonFlags | None, dt.datetime | None]]"

#: Default cap on a CRL's DER size (MOICA G2's complete CRL is about 20 MB).
DEFAULT_MAX_BYTES: Final = 256 * 2**20

# reasonCode values RFC 5280 defines (7 is unused); cryptography refuses the others too.
_REASONS: Final[dict[int, x509.ReasonFlags]] = {
    0: x509.ReasonFlags.unspecified,
    1: x509.ReasonFlags.key_compromise,
    2: x509.ReasonFlags.ca_compromise,
    3: x509.ReasonFlags.affiliation_changed,
    4: x509.ReasonFlags.superseded,
    5: x509.ReasonFlags.cessation_of_operation,
    6: x509.ReasonFlags.certificate_hold,
    8: x509.ReasonFlags.remove_from_crl,
    9: x509.ReasonFlags.privilege_withdrawn,
    10: x509.ReasonFlags.aa_compromise,
}
# Entry extension OIDs as whole DER elements (2.5.29.21, .24, .29).
_OID_REASON: Final = b"\x06\x03\x55\x1d\x15"
_OID_INVALIDITY_DATE: Final = b"\x06\x03\x55\x1d\x18"
_OID_CERTIFICATE_ISSUER: Final = b"\x06\x03\x55\x1d\x1d"

_SEQUENCE: Final = 0x30
_UTC_TIME: Final = UTC_TIME
_GENERALIZED_TIME: Final = GENERALIZED_TIME

# Entries walked per batch (bytes of DER): bounds the transient list of extension blocks.
_BATCH_BYTES: Final = 1 << 16
# Parsed extension blocks kept for lookups (reasonCode-only blocks repeat; dated ones do not).
_EXT_CACHE_SIZE: Final = 256

_MAGIC: Final = b"TWCRLIX\x00"
# Version 2: metadata {"crl": ..., "annotations": ...}; keyless files are re-verified at open.
_FORMAT_VERSION: Final = 2
_HEADER: Final = struct.Struct("<8sIIQ32s")  # magic, version, metadata length, file length, digest
_DIGESTED_HEADER: Final = 24  # header bytes before the digest


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One CRL entry.

    :param reason: ``None`` when the entry has no reasonCode extension.
    """

    serial_number: int
    #: Revocation date, aware UTC.
    revoked_at: dt.datetime
    reason: x509.ReasonFlags | None
    #: invalidityDate extension (when the key is known or suspected compromised), aware UTC.
    invalidity_date: dt.datetime | None = None

    @property
    def is_revoked(self) -> bool:
        """False only for reason removeFromCRL (a hold that was released)."""
        return self.reason is not x509.ReasonFlags.remove_from_crl

    @property
    def on_hold(self) -> bool:
        """Reason certificateHold: suspended (停用), may come back (復用)."""
        return self.reason is x509.ReasonFlags.certificate_hold


# A frozen dataclass's __init__ sets each field through object.__setattr__ (about 1.7 µs
# here); a lookup instead fills the same slots through their descriptors (0.9 µs). The
# result is an ordinary RevokedEntry (the tests compare the two).
_new_entry = object.__new__
_set_serial, _set_revoked_at, _set_reason, _set_invalidity = (
    RevokedEntry.__dict__[name].__set__
    for name in ("serial_number", "revoked_at", "reason", "invalidity_date")
)


def _make_entry(
    serial: int, revoked_at: dt.datetime, reason: x509.ReasonFlags | None, invalidity: dt.datetime | None
) -> RevokedEntry:
    entry: RevokedEntry = _new_entry(RevokedEntry)
    _set_serial(entry, serial)
    _set_revoked_at(entry, revoked_at)
    _set_reason(entry, reason)
    _set_invalidity(entry, invalidity)
    return entry


@dataclass(frozen=True, slots=True)
class CRLMetadata:
    """What a verified CRL says about itself (stored with a saved index)."""

    #: SHA-256 of the CRL's DER, lowercase hex.
    sha256: str
    #: Issuer DN, RFC 4514.
    issuer: str
    #: Key identifier of the CA key that signed the CRL (its certificate's SKI).
    issuer_key_identifier: bytes
    this_update: dt.datetime
    next_update: dt.datetime | None
    crl_number: int | None
    #: IssuingDistributionPoint full-name URIs; () for a complete CRL.
    partition_urls: tuple[str, ...]
    #: True when an IssuingDistributionPoint names a distribution point (a partition CRL).
    is_partitioned: bool
    only_user_certs: bool
    only_ca_certs: bool
    #: Number of entries.
    count: int
    #: Size of the DER in bytes.
    der_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "issuer": self.issuer,
            "issuer_key_identifier": self.issuer_key_identifier.hex(),
            "this_update": self.this_update.isoformat(),
            "next_update": self.next_update.isoformat() if self.next_update else None,
            # As text: other JSON readers may turn big integers into floats.
            "crl_number": str(self.crl_number) if self.crl_number is not None else None,
            "partition_urls": list(self.partition_urls),
            "is_partitioned": self.is_partitioned,
            "only_user_certs": self.only_user_certs,
            "only_ca_certs": self.only_ca_certs,
            "count": self.count,
            "der_size": self.der_size,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CRLMetadata:
        """Inverse of :meth:`to_json`; raises ValueError, KeyError or TypeError on bad input."""

        def aware(text: object) -> dt.datetime:
            value = dt.datetime.fromisoformat(text)  # type: ignore[arg-type]
            if value.tzinfo is None:
                raise ValueError("naive datetime in CRL index metadata")
            return value.astimezone(dt.UTC)

        urls = data["partition_urls"]
        flags = [data["is_partitioned"], data["only_user_certs"], data["only_ca_certs"]]
        sizes = [data["count"], data["der_size"]]
        if not (
            isinstance(data["sha256"], str)
            and isinstance(data["issuer"], str)
            and isinstance(urls, list)
            and all(isinstance(url, str) for url in urls)
            and all(isinstance(flag, bool) for flag in flags)
            and all(type(size) is int and size >= 0 for size in sizes)
        ):
            raise ValueError("CRL index metadata field of the wrong type")
        return cls(
            sha256=data["sha256"],
            issuer=data["issuer"],
            issuer_key_identifier=bytes.fromhex(data["issuer_key_identifier"]),
            this_update=aware(data["this_update"]),
            next_update=aware(data["next_update"]) if data["next_update"] is not None else None,
            crl_number=int(data["crl_number"]) if data["crl_number"] is not None else None,
            partition_urls=tuple(urls),
            is_partitioned=flags[0],
            only_user_certs=flags[1],
            only_ca_certs=flags[2],
            count=sizes[0],
            der_size=sizes[1],
        )


class CRLIndex:
    """A CRL verified against its issuer, indexed by serial number.

    Build one with :meth:`from_der` or :meth:`open` (the constructor is internal). Lookups are
    read-only and safe from several threads.
    """

    __slots__ = ("_annotations", "_der", "_der_base", "_ext_cache", "_meta", "_mmap", "_table", "_views")

    def __init__(
        self,
        meta: CRLMetadata,
        der: _Buffer,
        der_base: int,
        table: Sequence[int],
        ext_cache: _ExtCache | None = None,
        mapped: tuple[mmap.mmap, tuple[memoryview, ...]] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> None:
        self._meta = meta
        self._annotations: dict[str, str | None] = dict(annotations or {})
        self._der = der
        self._der_base = der_base  # where the DER starts in ``_der`` (0, or past a file's header)
        self._table = table  # entry offsets into the DER by slot; 0 = empty
        self._ext_cache: _ExtCache = ext_cache if ext_cache is not None else {}
        self._mmap = mapped[0] if mapped else None
        self._views = mapped[1] if mapped else ()

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_der(
        cls,
        der: bytes | bytearray | memoryview,
        *,
        issuer: TaiwanCertificate | x509.Certificate,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> CRLIndex:
        """Verify ``der`` as a CRL issued by ``issuer`` and index it.

        :raises RevocationDataError: the bytes are not a DER CRL or exceed ``max_bytes``. Also
            raised when the issuer name differs from the issuer certificate's subject, or the
            authority key identifier differs from its subject key identifier. Also when the
            issuer certificate has KeyUsage without cRLSign, or the signature does not verify.
            Also for a critical CRL or entry extension this module does not understand, a
            delta CRL, an indirect CRL, or a CRL limited to some reasons or to attribute
            certificates: none of these is supported.
        """
        if not isinstance(der, bytes):
            der = bytes(der)
        if len(der) > max_bytes:
            raise RevocationDataError(f"CRL of {len(der)} bytes exceeds the {max_bytes}-byte limit")
        cert = issuer.certificate if isinstance(issuer, TaiwanCertificate) else issuer
        issuer_ski = (
            issuer.subject_key_identifier if isinstance(issuer, TaiwanCertificate) else key_identifier(cert)
        )
        try:
            return cls._ingest(der, cert, issuer_ski)
        except (RevocationDataError, MemoryError, RecursionError):
            raise
        except Exception as exc:  # any other failure on untrusted bytes means a malformed CRL
            raise RevocationDataError(f"malformed CRL ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def _ingest(cls, der: bytes, cert: x509.Certificate, issuer_ski: bytes) -> CRLIndex:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError as exc:
            raise RevocationDataError(f"not a DER CRL: {exc}") from exc
        layout = _layout(der)
        if crl.issuer != cert.subject:
            raise RevocationDataError(
                f"CRL issuer {crl.issuer.rfc4514_string()!r} is not the CA {cert.subject.rfc4514_string()!r}"
            )
        scope = _crl_extensions(crl)
        if scope.aki is not None and scope.aki != issuer_ski:
            raise RevocationDataError(
                f"CRL authority key identifier {scope.aki.hex()} is not the CA's key {issuer_ski.hex()}"
            )
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is not None and not usage.crl_sign:
            raise RevocationDataError("the issuer certificate's key usage does not include cRLSign")
        _verify_signature(crl, der, layout, cert.public_key())

        this_update, next_update = crl.last_update_utc, crl.next_update_utc
        count = len(crl)  # O(1): cryptography counted the entries while validating them
        del crl  # nothing but a reference to the DER; never let anything build its entry list
        if len(der) >= 2**32:
            raise RevocationDataError("CRL too large to index (4 GiB or more)")

        ext_cache: _ExtCache = {}
        if layout.revoked is None:
            table = array("I", bytes(4))
        else:
            start, end = layout.revoked
            # Year 0000 passes cryptography's parse but no datetime holds it: such a CRL is
            # walked the careful way, which decodes every date (and refuses that one).
            careful = der.find(b"\x18\x0f0000", start, end) >= 0
            table = _build_table(der, start, end, count, ext_cache, careful=careful)
        meta = CRLMetadata(
            sha256=hashlib.sha256(der).hexdigest(),
            issuer=cert.subject.rfc4514_string(),
            issuer_key_identifier=issuer_ski,
            this_update=this_update,
            next_update=next_update,
            crl_number=scope.crl_number,
            partition_urls=scope.partition_urls,
            is_partitioned=scope.is_partitioned,
            only_user_certs=scope.only_user_certs,
            only_ca_certs=scope.only_ca_certs,
            count=count,
            der_size=len(der),
        )
        return cls(meta, der, 0, table, ext_cache)

    # -- metadata ----------------------------------------------------------------------------

    @property
    def metadata(self) -> CRLMetadata:
        return self._meta

    @property
    def this_update(self) -> dt.datetime:
        return self._meta.this_update

    @property
    def next_update(self) -> dt.datetime | None:
        return self._meta.next_update

    @property
    def crl_number(self) -> int | None:
        return self._meta.crl_number

    @property
    def issuer_key_identifier(self) -> bytes:
        return self._meta.issuer_key_identifier

    @property
    def sha256(self) -> str:
        return self._meta.sha256

    @property
    def partition_urls(self) -> tuple[str, ...]:
        return self._meta.partition_urls

    @property
    def only_user_certs(self) -> bool:
        return self._meta.only_user_certs

    @property
    def only_ca_certs(self) -> bool:
        return self._meta.only_ca_certs

    @property
    def annotations(self) -> dict[str, str | None]:
        """What :meth:`save` was given to store with the index (e.g. URL, ETag); {} otherwise.

        Authenticated only when the file was opened with a ``key``.
        """
        return dict(self._annotations)

    @property
    def is_mapped(self) -> bool:
        """True when backed by a memory-mapped file (from :meth:`open`)."""
        return self._mmap is not None

    def __repr__(self) -> str:
        meta = self._meta
        return (
            f"<CRLIndex {meta.issuer!r} #{meta.crl_number} {meta.count} entries "
            f"thisUpdate={meta.this_update.isoformat()} sha256={meta.sha256[:16]}…>"
        )

    def is_fresh(self, at: dt.datetime, *, skew: dt.timedelta = dt.timedelta(minutes=5)) -> bool:
        """Whether the CRL is current at ``at`` (aware), allowing ``skew`` either side.

        A CRL that is not fresh means "status unknown", not "good"; the caller decides.
        """
        if at.tzinfo is None:
            raise ValueError("is_fresh needs an aware datetime")
        meta = self._meta
        # ``at ± skew`` rather than ``nextUpdate + skew``: a nextUpdate of 9999-12-31 is valid
        # and must not overflow.
        return meta.this_update <= at + skew and (meta.next_update is None or at - skew <= meta.next_update)

    def covers(self, target: str | TaiwanCertificate | x509.Certificate) -> bool:
        """Whether this CRL's scope includes ``target``.

        ``target`` is a certificate, or a URL from a certificate's CRL distribution points. A
        complete CRL (no distribution point in an IssuingDistributionPoint) covers every
        certificate of its issuer. A partition CRL covers only certificates whose CDP names one
        of its partition URLs. For a certificate, its authority key identifier (or issuer DN)
        must be this CRL's issuer, and onlyContainsUserCerts and onlyContainsCACerts apply.
        """
        meta = self._meta
        urls: tuple[str, ...]
        if isinstance(target, str):
            urls = (target,)
        else:
            if isinstance(target, TaiwanCertificate):
                cert = target.certificate
                urls, is_ca, aki = target.crl_urls, target.is_ca, target.authority_key_identifier
            else:
                cert = target
                urls, is_ca, aki = _cdp_urls(cert), _is_ca(cert), _aki(cert)
            if aki is not None:
                if aki != meta.issuer_key_identifier:
                    return False
            elif cert.issuer.rfc4514_string() != meta.issuer:
                return False
            if (meta.only_user_certs and is_ca) or (meta.only_ca_certs and not is_ca):
                return False
        if not meta.is_partitioned:
            return True
        return any(url in meta.partition_urls for url in urls)

    # -- lookups -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._meta.count

    def __contains__(self, serial: object) -> bool:
        """True if ``serial`` is listed and not released (removeFromCRL)."""
        if not isinstance(serial, int):
            return False
        entry = self.lookup(serial)
        return entry is not None and entry.is_revoked

    def lookup(self, serial_number: int) -> RevokedEntry | None:
        """The entry for ``serial_number``, or None. O(1) expected: no per-entry scan.

        A (broken) CRL that lists a serial more than once answers with its first entry that
        is not removeFromCRL, if any: any such entry means revoked (fail closed), whatever order.
        """
        tlv = _integer_tlv(serial_number)
        size = len(tlv)
        table = self._table
        slots = len(table)
        slot = zlib.crc32(tlv) % slots
        d = self._der
        base = self._der_base
        wrapped = False
        released: RevokedEntry | None = None  # a removeFromCRL entry; another may still revoke
        # Decoding is inlined: each call saved is a tenth of a microsecond here. The structure
        # was validated at ingest, so a failure below means a corrupt index file.
        try:
            while offset := table[slot]:
                pos = base + offset
                head = d[pos + 1]
                if head < 0x80:
                    start = pos + 2
                    end = start + head
                else:
                    _, start, end = _tlv(d, pos, len(d))
                time_pos = start + size
                if d[start:time_pos] == tlv:
                    time_end = time_pos + 2 + d[time_pos + 1]  # a time element's length is one byte
                    if time_end > end:
                        raise ValueError("time element overruns its entry")
                    revoked_at = _parse_time(d[time_pos], d[time_pos + 2 : time_end])
                    if time_end == end:
                        return _make_entry(serial_number, revoked_at, None, None)
                    blob = d[time_end:end]
                    reason, invalidity = self._ext_cache.get(blob) or self._extensions(blob)
                    entry = _make_entry(serial_number, revoked_at, reason, invalidity)
                    if reason is not x509.ReasonFlags.remove_from_crl:
                        return entry
                    released = released or entry
                slot += 1
                if slot == slots:
                    if wrapped:  # a full table: only a corrupt index file can have one
                        raise ValueError("no free slot in the table")
                    slot, wrapped = 0, True
        except (ValueError, IndexError) as exc:
            raise RevocationDataError(f"corrupt CRL index: {exc}") from exc
        return released

    def _extensions(self, blob: bytes) -> tuple[x509.ReasonFlags | None, dt.datetime | None]:
        cached = self._ext_cache.get(blob)
        if cached is None:
            cached = _parse_entry_extensions(blob)
            if cached[1] is None and len(self._ext_cache) < _EXT_CACHE_SIZE:
                self._ext_cache[blob] = cached
        return cached

    # -- shared file ---------------------------------------------------------------------------

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        key: bytes | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> None:
        """Write the index and the CRL to ``path`` atomically (readers never see half a file).

        The file is created under a random name in the same directory (``O_EXCL``, so never
        through a planted symlink) and renamed over ``path``.

        :param key: makes the header digest an HMAC-SHA256 under this secret, covering the
            metadata (CRL number and SHA-256), ``annotations`` and the table. Then only a
            holder of the key can produce a file that :meth:`open` accepts with it.
        :param annotations: short strings stored with the index (a URL, an ETag), read back by
            :attr:`annotations`.
        """
        target = Path(path)
        meta = self._meta
        notes = dict(annotations if annotations is not None else self._annotations)
        if not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in notes.items()):
            raise TypeError("annotations map strings to strings or None")
        meta_json = json.dumps({"crl": meta.to_json(), "annotations": notes}, sort_keys=True).encode()
        table = array("I", self._table)
        if sys.byteorder != "little":  # pragma: no cover - the file is little-endian
            table.byteswap()
        table_offset = _align8(_HEADER.size + len(meta_json))
        der_offset = table_offset + 4 * len(table)
        file_length = der_offset + meta.der_size
        body = meta_json + bytes(table_offset - _HEADER.size - len(meta_json)) + table.tobytes()
        fixed = struct.pack("<8sIIQ", _MAGIC, _FORMAT_VERSION, len(meta_json), file_length)
        hasher = _digester(key)
        hasher.update(fixed + body)
        digest = hasher.digest()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_HEADER.pack(_MAGIC, _FORMAT_VERSION, len(meta_json), file_length, digest))
                out.write(body)
                out.write(self._der[self._der_base : self._der_base + meta.der_size])
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        key: bytes | None = None,
        issuer: TaiwanCertificate | x509.Certificate | None = None,
    ) -> CRLIndex:
        """Map a file written by :meth:`save`, read-only; processes mapping it share the pages.

        Checks the magic, the version and the length, then the header digest over the header,
        the metadata and the table, and the CRL's SHA-256. With ``key`` the digest is an HMAC
        under it: the file is then trusted as written by a key holder. Without ``key`` the
        digest proves nothing against a forger, so ``issuer`` is required: the stored CRL is
        verified against it again (as :meth:`from_der` does) and the table and metadata must
        be exactly what that CRL yields. With both, the issuer must also be the CRL's.

        :raises TypeError: neither ``key`` nor ``issuer`` given.
        :raises RevocationDataError: the file is truncated, altered, not an index file, or (without
            a key) its CRL does not verify against ``issuer``.
        :raises OSError: the file cannot be read, or ``path`` is a symlink.
        """
        if key is None and issuer is None:
            raise TypeError("CRLIndex.open needs key= (the deployment secret) or issuer= (the CRL's CA)")
        name = os.fspath(path)
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise RevocationDataError(f"CRL index {name!r} is not a regular file")
            if info.st_size < _HEADER.size:
                raise RevocationDataError(f"CRL index file {name!r} is truncated ({info.st_size} bytes)")
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        views: list[memoryview] = []
        try:
            return cls._from_mapping(mapped, views, name, key, issuer)
        except BaseException as exc:
            for view in reversed(views):
                view.release()
            mapped.close()
            if isinstance(exc, Exception) and not isinstance(exc, RevocationDataError | MemoryError):
                raise RevocationDataError(f"unusable CRL index file {name!r}: {exc}") from exc
            raise

    @classmethod
    def _from_mapping(
        cls,
        mapped: mmap.mmap,
        views: list[memoryview],
        name: str,
        key: bytes | None,
        issuer: TaiwanCertificate | x509.Certificate | None,
    ) -> CRLIndex:
        magic, version, meta_length, file_length, digest = _HEADER.unpack_from(mapped, 0)
        if magic != _MAGIC:
            raise RevocationDataError(f"{name!r} is not a CRL index file")
        if version != _FORMAT_VERSION:
            raise RevocationDataError(f"{name!r}: unsupported CRL index format version {version}")
        if file_length != len(mapped):
            raise RevocationDataError(f"{name!r} is {len(mapped)} bytes, its header says {file_length}")
        if _HEADER.size + meta_length > file_length:
            raise RevocationDataError(f"{name!r}: metadata runs past the end of the file")
        whole = memoryview(mapped)
        views.append(whole)
        meta_end = _HEADER.size + meta_length
        document = json.loads(bytes(whole[_HEADER.size : meta_end]))
        if not isinstance(document, dict) or set(document) != {"crl", "annotations"}:
            raise RevocationDataError(f"{name!r}: malformed metadata")
        notes = document["annotations"]
        if not isinstance(notes, dict) or not all(v is None or isinstance(v, str) for v in notes.values()):
            raise RevocationDataError(f"{name!r}: malformed annotations")
        if not isinstance(document["crl"], dict):
            raise RevocationDataError(f"{name!r}: malformed metadata")
        meta = CRLMetadata.from_json(document["crl"])
        table_offset = _align8(meta_end)
        der_offset = file_length - meta.der_size
        slots, rest = divmod(der_offset - table_offset, 4)
        if rest or slots <= 2 * meta.count:
            raise RevocationDataError(f"{name!r}: section sizes do not match the metadata")
        hasher = _digester(key)
        hasher.update(whole[:_DIGESTED_HEADER])
        hasher.update(whole[_HEADER.size : der_offset])
        if not hmac.compare_digest(hasher.digest(), digest):
            raise RevocationDataError(f"{name!r}: header digest mismatch (altered or corrupt file)")
        if hashlib.sha256(whole[der_offset:]).hexdigest() != meta.sha256:
            raise RevocationDataError(f"{name!r}: the embedded CRL does not match its SHA-256")
        ext_cache: _ExtCache | None = None
        if issuer is not None:
            ski = (
                issuer.subject_key_identifier
                if isinstance(issuer, TaiwanCertificate)
                else key_identifier(issuer)
            )
            if ski != meta.issuer_key_identifier:
                raise RevocationDataError(f"{name!r}: the CRL is not signed by the CA given")
            if key is None:
                ext_cache = _verify_derived(whole, table_offset, der_offset, meta, issuer, name)
        table: Sequence[int]
        if sys.byteorder == "little":
            table = whole[table_offset:der_offset].cast("I")
            views.append(table)
        else:  # pragma: no cover - big-endian hosts copy and swap
            swapped = array("I", bytes(whole[table_offset:der_offset]))
            swapped.byteswap()
            table = swapped
        return cls(meta, mapped, der_offset, table, ext_cache, (mapped, tuple(views)), notes)

    def close(self) -> None:
        """Unmap a file opened with :meth:`open` (no-op otherwise); the index is unusable after."""
        if self._mmap is None:
            return
        for view in reversed(self._views):
            view.release()
        self._views = ()
        self._mmap.close()

    def __enter__(self) -> CRLIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _verify_derived(
    whole: memoryview,
    table_offset: int,
    der_offset: int,
    meta: CRLMetadata,
    issuer: TaiwanCertificate | x509.Certificate,
    name: str,
) -> _ExtCache:
    """Re-verify a file's CRL against ``issuer`` and require the stored table and metadata to
    be exactly what it yields (the table is built deterministically); returns the parsed
    extension cache for reuse."""
    rebuilt = CRLIndex.from_der(bytes(whole[der_offset:]), issuer=issuer)
    if rebuilt._meta != meta:
        raise RevocationDataError(f"{name!r}: the metadata does not match the stored CRL")
    table = array("I", rebuilt._table)
    if sys.byteorder != "little":  # pragma: no cover - the file is little-endian
        table.byteswap()
    if whole[table_offset:der_offset] != table.tobytes():
        raise RevocationDataError(f"{name!r}: the table is not derived from the stored CRL (altered file)")
    return rebuilt._ext_cache


# --------------------------------------------------------------------------- DER helpers


# One TLV reader and one time parser for the library (``twcert._der``). They raise DERError (a
# ValueError): ingest turns any such failure into RevocationDataError("malformed CRL"), and a
# lookup into RevocationDataError("corrupt CRL index").
_tlv: Final = read_header
_parse_time: Final = parse_time


def _integer_tlv(value: int) -> bytes:
    """The DER INTEGER element of ``value`` (minimal two's complement), as a CRL carries it."""
    # One byte per 8 bits plus room for the sign bit; keyword arguments are slow, so the
    # common non-negative case avoids ``signed=True`` (the extra byte is then the 0 sign byte).
    if value >= 0:
        size = (value.bit_length() >> 3) + 1
        body = value.to_bytes(size)
    else:
        size = ((~value).bit_length() >> 3) + 1
        body = value.to_bytes(size, signed=True)
    if size < 0x80:
        return _INTEGER_HEADERS[size] + body
    length = size.to_bytes((size.bit_length() + 7) >> 3, "big")
    return bytes((2, 0x80 | len(length))) + length + body


_INTEGER_HEADERS: Final = tuple(bytes((2, size)) for size in range(0x80))


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


def _digester(key: bytes | None) -> _Hasher:
    """The index file's header digest: SHA-256, or HMAC-SHA256 under ``key``."""
    return hashlib.sha256() if key is None else hmac.new(key, digestmod=hashlib.sha256)


def _align8(n: int) -> int:
    return (n + 7) & ~7


@dataclass(frozen=True, slots=True)
class _Layout:
    tbs: tuple[int, int]  # the tbsCertList element as signed: start, end
    revoked: tuple[int, int] | None  # revokedCertificates contents: start, end
    algorithms_match: bool  # tbsCertList.signature == signatureAlgorithm, byte for byte


def _layout(der: bytes) -> _Layout:
    """Locate the parts of a CRL that cryptography has already parsed."""
    end = len(der)
    tag, pos, outer_end = _tlv(der, 0, end)
    if tag != _SEQUENCE or outer_end != end:
        raise RevocationDataError("not a CRL: wrong outer tag or trailing data")
    tbs_start = pos
    tag, pos, tbs_end = _tlv(der, tbs_start, end)
    if tag != _SEQUENCE:
        raise RevocationDataError("not a CRL: tbsCertList is not a SEQUENCE")
    tag, _, after = _tlv(der, pos, tbs_end)
    if tag == 0x02:  # version
        pos = after
        _, _, after = _tlv(der, pos, tbs_end)
    inner_algorithm = der[pos:after]
    pos = after
    for _ in range(2):  # issuer, thisUpdate
        _, _, pos = _tlv(der, pos, tbs_end)
    if pos < tbs_end and der[pos] in (_UTC_TIME, _GENERALIZED_TIME):  # nextUpdate
        _, _, pos = _tlv(der, pos, tbs_end)
    revoked = None
    if pos < tbs_end and der[pos] == _SEQUENCE:
        _, content, pos = _tlv(der, pos, tbs_end)
        revoked = (content, pos)
    _, _, algorithm_end = _tlv(der, tbs_end, end)
    return _Layout((tbs_start, tbs_end), revoked, inner_algorithm == der[tbs_end:algorithm_end])


def _parse_entry_extensions(blob: bytes) -> tuple[x509.ReasonFlags | None, dt.datetime | None]:
    """Decode and check an entry's crlEntryExtensions element (the whole SEQUENCE)."""
    tag, pos, end = _tlv(blob, 0, len(blob))
    if tag != _SEQUENCE or end != len(blob):
        raise RevocationDataError("malformed CRL entry extensions")
    reason: x509.ReasonFlags | None = None
    invalidity: dt.datetime | None = None
    seen: set[bytes] = set()
    while pos < end:
        tag, field, ext_end = _tlv(blob, pos, end)
        if tag != _SEQUENCE:
            raise RevocationDataError("malformed CRL entry extension")
        tag, _, oid_end = _tlv(blob, field, ext_end)
        if tag != 0x06:
            raise RevocationDataError("malformed CRL entry extension OID")
        oid = blob[field:oid_end]
        field = oid_end
        critical = False
        if field < ext_end and blob[field] == 0x01:
            if blob[field : field + 3] != b"\x01\x01\xff":  # DER encodes only TRUE (FALSE is the default)
                raise RevocationDataError("malformed critical flag in a CRL entry extension")
            critical = True
            field += 3
        tag, value_start, value_end = _tlv(blob, field, ext_end)
        if tag != 0x04 or value_end != ext_end:
            raise RevocationDataError("malformed CRL entry extension value")
        if oid in seen:
            raise RevocationDataError(f"duplicate CRL entry extension {oid.hex()}")
        seen.add(oid)
        value = blob[value_start:value_end]
        if oid == _OID_REASON:
            if len(value) != 3 or value[:2] != b"\x0a\x01" or value[2] not in _REASONS:
                raise RevocationDataError(f"invalid CRL reason code {value.hex()}")
            reason = _REASONS[value[2]]
        elif oid == _OID_INVALIDITY_DATE:
            if len(value) != 17 or value[:2] != b"\x18\x0f":
                raise RevocationDataError("invalidityDate is not a GeneralizedTime YYYYMMDDHHMMSSZ")
            invalidity = _parse_time(_GENERALIZED_TIME, value[2:])
        elif oid == _OID_CERTIFICATE_ISSUER:
            raise RevocationDataError("certificateIssuer entry extension: indirect CRLs are not supported")
        elif critical:
            raise RevocationDataError(f"unsupported critical CRL entry extension (OID element {oid.hex()})")
        pos = ext_end
    return reason, invalidity


# --------------------------------------------------------------------------- ingest steps


def _build_table(
    d: bytes, start: int, end: int, count: int, ext_cache: _ExtCache, *, careful: bool = False
) -> array[int]:
    """The hash table of the ``count`` entries in ``d[start:end]``: slot ``crc32(serial DER) %
    slots`` (linear probing) holds the entry's offset in ``d``.

    The fast loop relies on cryptography having validated every entry as
    ``30 len 02 slen serial time [extensions]``: with a one-byte entry length, the serial
    length is one byte too. Entries with longer lengths, and all entries when ``careful``, go
    through :func:`_careful_entry`, which checks each element. The table has ``2 * count + 1``
    slots (load at most 1/2); only a walk finding more entries than cryptography counted could
    fill it, and that is caught where a probe wraps around, before it could loop forever.
    """
    slots = 2 * count + 1
    table = array("I", bytes(4 * slots))
    crc32 = zlib.crc32
    seen = 0
    pos = start
    while pos < end:
        stop = min(end, pos + _BATCH_BYTES)
        blobs: list[bytes] = []
        add_blob = blobs.append
        while pos < stop:
            length = d[pos + 1]
            if length < 0x80 and not careful:
                serial_end = pos + 4 + d[pos + 3]
                slot = crc32(d[pos + 2 : serial_end]) % slots
                entry_pos = pos
                pos += length + 2
                # The time element takes 15 (UTCTime) or 17 bytes; what follows is the
                # extensions. An empty extensions SEQUENCE after a UTCTime is missed: it says nothing.
                if pos - serial_end > 17:
                    add_blob(d[serial_end + 2 + d[serial_end + 1] : pos])
            else:
                entry_pos = pos
                serial, blob, pos = _careful_entry(d, pos, end)
                slot = crc32(serial) % slots
                if blob:
                    add_blob(blob)
            while table[slot]:
                slot += 1
                if slot == slots:
                    slot = 0
                    if seen > count:
                        raise RevocationDataError(f"the CRL walk found more than the {count} entries counted")
            table[slot] = entry_pos
            seen += 1
        if seen > count:
            raise RevocationDataError(
                f"the CRL walk found more than the {count} entries cryptography counted"
            )
        for blob in set(blobs).difference(ext_cache):
            parsed = _parse_entry_extensions(blob)
            if parsed[1] is None and len(ext_cache) < _EXT_CACHE_SIZE:
                ext_cache[blob] = parsed
    if pos != end or seen != count:
        raise RevocationDataError(f"the CRL walk found {seen} entries, cryptography {count}")
    return table


def _careful_entry(d: bytes, pos: int, end: int) -> tuple[bytes, bytes, int]:
    """Check one entry element by element: (serial element, extensions element or b"", end)."""
    tag, content, entry_end = _tlv(d, pos, end)
    if tag != _SEQUENCE:
        raise RevocationDataError(f"CRL entry at {pos} is not a SEQUENCE")
    tag, serial_start, serial_end = _tlv(d, content, entry_end)
    if tag != 0x02 or serial_end == serial_start:
        raise RevocationDataError(f"CRL entry at {pos} has no serial number")
    tag, time_start, time_end = _tlv(d, serial_end, entry_end)
    _parse_time(tag, d[time_start:time_end])
    return d[content:serial_end], d[time_end:entry_end], entry_end


@dataclass(frozen=True, slots=True)
class _Scope:
    crl_number: int | None
    aki: bytes | None
    partition_urls: tuple[str, ...]
    is_partitioned: bool
    only_user_certs: bool
    only_ca_certs: bool


def _crl_extensions(crl: x509.CertificateRevocationList) -> _Scope:
    """Read the CRL extensions; refuse what cannot be honoured."""
    crl_number: int | None = None
    aki: bytes | None = None
    idp: x509.IssuingDistributionPoint | None = None
    for ext in crl.extensions:
        value = ext.value
        if isinstance(value, x509.DeltaCRLIndicator):
            raise RevocationDataError("delta CRLs are not supported; use the complete (base) CRL")
        if isinstance(value, x509.CRLNumber):
            crl_number = value.crl_number
        elif isinstance(value, x509.AuthorityKeyIdentifier):
            aki = value.key_identifier
        elif isinstance(value, x509.IssuingDistributionPoint):
            idp = value
        elif ext.critical:
            raise RevocationDataError(f"unsupported critical CRL extension {ext.oid.dotted_string}")
    if idp is None:
        return _Scope(crl_number, aki, (), False, False, False)
    if idp.indirect_crl:
        raise RevocationDataError("indirect CRLs are not supported")
    if idp.only_contains_attribute_certs:
        raise RevocationDataError("the CRL covers attribute certificates only")
    if idp.only_some_reasons:
        raise RevocationDataError("CRLs partitioned by reason (onlySomeReasons) are not supported")
    urls = tuple(
        name.value for name in idp.full_name or () if isinstance(name, x509.UniformResourceIdentifier)
    )
    partitioned = idp.full_name is not None or idp.relative_name is not None
    return _Scope(
        crl_number, aki, urls, partitioned, idp.only_contains_user_certs, idp.only_contains_ca_certs
    )


def _verify_signature(
    crl: x509.CertificateRevocationList, der: bytes, layout: _Layout, public_key: CertificatePublicKeyTypes
) -> None:
    """Check the CRL signature over the tbsCertList bytes as received (see the module docstring)."""
    if not layout.algorithms_match:
        raise RevocationDataError("CRL signature algorithm differs from the one inside tbsCertList")
    with memoryview(der) as whole, whole[layout.tbs[0] : layout.tbs[1]] as tbs:
        try:
            params = crl.signature_algorithm_parameters
            if isinstance(public_key, rsa.RSAPublicKey) and isinstance(params, padding.PKCS1v15):
                algorithm = crl.signature_hash_algorithm
                if algorithm is None:
                    raise UnsupportedAlgorithm("RSA signature without a hash algorithm")
                # cryptography takes any buffer; its stubs say bytes. A copy would cost 10+ ms.
                public_key.verify(crl.signature, cast(bytes, tbs), params, algorithm)
            elif isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
                public_key.verify(crl.signature, cast(bytes, tbs), params)
            elif not crl.is_signature_valid(public_key):  # type: ignore[arg-type]
                raise InvalidSignature()
        except InvalidSignature:
            raise RevocationDataError("CRL signature does not verify with the issuer's key") from None
        except (UnsupportedAlgorithm, TypeError, ValueError) as exc:
            raise RevocationDataError(f"CRL signature cannot be checked: {exc}") from exc


def _cdp_urls(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(
        name.value
        for point in cdp
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None
