"""Trusted CA certificates: the bundled, pinned GPKI anchors plus any configured extra CAs.

The Government Root CAs are in no operating-system trust store any more (Mozilla dropped
GRCA G1 in 2020; G2 and G3 were never there), so the library ships its own copies, each
pinned by SHA-256 here in code. GCA, XCA and the GTestCA are not in any public source we could
verify; add them with :meth:`TrustStore.with_pem_files` and a pin obtained out of band.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Final

from .certificate import CAFamily, IssuerInfo, TaiwanCertificate, load_certificates
from .errors import CertificateParseError, ConfigurationError, TrustAnchorPinError

__all__ = ["BUNDLED_PINS", "TrustStore", "TrustedCA"]

#: SHA-256 (of the DER) of every bundled CA certificate, by file name in ``twcert/anchors``.
#: These are the values published in the project's ``SOURCES.md``, each matched against at
#: least one independent pin; a test recomputes them from the files.
BUNDLED_PINS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "grca-g1-root.pem": "7600295eefe85b9e1fd624db76062aaaae59818a54d2774cd4c0b2c01131e1b3",
        "grca-g2-root.pem": "70b922bfda0e3f4a342e4ee22d579ae598d071cc5ec9c30f123680340388aea5",
        "grca-g3-root.pem": "57df6f20e04c588e85f35be8832f5d4e78958336ae3b18fb7c9bae0dfead4044",
        "moica-g1-intermediate-expired-2023.pem": (
            "45111450fb31ef5137e4b7cff9ee2bef23e8bbfd165086dfbd93df2f329b785e"
        ),
        "moica-g2-intermediate.pem": "c4c462de463f856804dc898338d2cecb55fba74155851599d8fb7d70218fd1be",
        "moica-g3-intermediate.pem": "ed793fd0d50a2a398049d598982cf01e75f873b532066caec238f800a06ca9da",
        "moeaca-g2-intermediate.pem": "0cf08b01e554eb7631d4916e9e8c5398af994242a26ca388638622a0e59ff379",
        "moeaca-g3-intermediate.pem": "b144fa2c7041b093a6775f557f1707499750ff7aedb0510dd573dd46a98a0d6c",
    }
)


@dataclass(frozen=True, slots=True)
class TrustedCA:
    """A CA certificate the store holds, and what it is."""

    certificate: TaiwanCertificate
    family: CAFamily
    generation: str | None
    #: Self-signed roots are anchors; every other CA must chain to an anchor to be used.
    is_anchor: bool
    #: Where it came from ("bundled:<file>" or a file path).
    source: str

    @property
    def key_identifier(self) -> bytes:
        return self.certificate.subject_key_identifier

    @property
    def name(self) -> str:
        gen = f" {self.generation}" if self.generation else ""
        return f"{self.family.value}{gen}"


class TrustStore:
    """An immutable set of trusted CA certificates, indexed by subject key identifier.

    Build it with :meth:`default` and extend it with :meth:`with_pem_files` or
    :meth:`with_certificates`; each returns a new store.
    """

    __slots__ = ("_by_key", "_cas")

    def __init__(self, cas: Iterable[TrustedCA] = ()) -> None:
        unique: dict[str, TrustedCA] = {}
        for ca in cas:
            unique.setdefault(ca.certificate.sha256, ca)
        self._cas: tuple[TrustedCA, ...] = tuple(unique.values())
        by_key: dict[bytes, list[TrustedCA]] = {}
        for ca in self._cas:
            by_key.setdefault(ca.key_identifier, []).append(ca)
        self._by_key: Mapping[bytes, tuple[TrustedCA, ...]] = MappingProxyType(
            {k: tuple(v) for k, v in by_key.items()}
        )

    @classmethod
    def default(cls) -> TrustStore:
        """The eight bundled real GPKI CA certificates (GRCA G1–G3, MOICA G1–G3, MOEACA G2–G3)."""
        cas = []
        package = resources.files("twcert") / "anchors"
        for filename, pin in BUNDLED_PINS.items():
            data = (package / filename).read_bytes()
            (cert,) = load_certificates(data)
            if cert.sha256 != pin:
                raise TrustAnchorPinError(f"bundled {filename} is corrupted", sha256=cert.sha256)
            cas.append(_trusted(cert, f"bundled:{filename}", family=None, generation=None))
        return cls(cas)

    @classmethod
    def empty(cls) -> TrustStore:
        return cls(())

    def with_certificates(
        self,
        certificates: Iterable[TaiwanCertificate],
        *,
        pins: Collection[str] | None = None,
        family: CAFamily | None = None,
        generation: str | None = None,
        source: str = "configured",
    ) -> TrustStore:
        """Add CA certificates. Self-signed ones become anchors; others must chain to one.

        :param pins: if given, every certificate's SHA-256 (hex, any case, colons allowed)
            must be in it, or :class:`~twcert.errors.TrustAnchorPinError` is raised.
        :param family: the CA family, when it cannot be read from the subject OU.
        :param generation: the CA generation label ("G2", …), which no field states reliably.
        """
        wanted = {_norm_pin(p) for p in pins} if pins is not None else None
        added = []
        for cert in certificates:
            if wanted is not None and cert.sha256 not in wanted:
                raise TrustAnchorPinError(
                    f"{source}: certificate not in the configured pins", sha256=cert.sha256
                )
            if not cert.is_ca:
                raise ConfigurationError(f"{source}: {cert.subject!r} is not a CA certificate")
            added.append(_trusted(cert, source, family=family, generation=generation))
        return TrustStore((*self._cas, *added))

    def with_pem_files(
        self,
        paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
        pins: Collection[str] | None = None,
        *,
        family: CAFamily | None = None,
        generation: str | None = None,
    ) -> TrustStore:
        """Add the CA certificates in PEM (or DER, or PKCS#7) files; see :meth:`with_certificates`."""
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        store = self
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                certs = load_certificates(data)
            except OSError as exc:
                raise ConfigurationError(f"cannot read CA file {os.fspath(path)!r}: {exc}") from exc
            except CertificateParseError as exc:
                raise ConfigurationError(f"CA file {os.fspath(path)!r}: {exc.detail}") from exc
            store = store.with_certificates(
                certs, pins=pins, family=family, generation=generation, source=os.fspath(path)
            )
        return store

    # -- queries ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[TrustedCA]:
        return iter(self._cas)

    def __len__(self) -> int:
        return len(self._cas)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, TaiwanCertificate):
            return any(ca.certificate == item for ca in self._cas)
        return False

    def __repr__(self) -> str:
        return f"<TrustStore {len(self._cas)} CAs: {', '.join(ca.name for ca in self._cas)}>"

    @property
    def anchors(self) -> tuple[TrustedCA, ...]:
        return tuple(ca for ca in self._cas if ca.is_anchor)

    @property
    def intermediates(self) -> tuple[TrustedCA, ...]:
        return tuple(ca for ca in self._cas if not ca.is_anchor)

    def by_key_identifier(self, key_id: bytes | None) -> tuple[TrustedCA, ...]:
        """CA certificates whose subject key identifier is ``key_id`` (usually one)."""
        if key_id is None:
            return ()
        return self._by_key.get(key_id, ())

    @property
    def issuers(self) -> Mapping[bytes, IssuerInfo]:
        """Key identifier → family/generation, for :func:`twcert.load_certificate`'s ``issuers``."""
        return MappingProxyType(
            {ca.key_identifier: IssuerInfo(ca.family, ca.generation, ca.name) for ca in self._cas}
        )


def _norm_pin(pin: str) -> str:
    return pin.replace(":", "").strip().lower()


def _trusted(
    cert: TaiwanCertificate, source: str, *, family: CAFamily | None, generation: str | None
) -> TrustedCA:
    return TrustedCA(
        certificate=cert,
        family=family or cert.family,
        generation=generation or cert.generation,
        is_anchor=cert.is_self_signed,
        source=source,
    )
