"""A fake Government PKI that mirrors the real profiles, for tests, demos and benchmarks.

It builds GRCA-like roots (two "generations" with the same DN and different keys, as GRCA G1/G2
really are), MOICA/GCA/MOEACA/XCA-like issuing CAs (MOICA again in two generations sharing one
DN), a GTestCA (``OU=政府測試憑證管理中心``), and end-entity certificates with the GPKI subject
layouts, subjectDirectoryAttributes, policy 2.16.886.101.0.3.3, a CDP listing a partition CRL
then the complete CRL, and AIA OCSP/caIssuers URLs. Every "bad" certificate a login must refuse
can be issued on purpose: expired, not yet valid, revoked, encryption-only, wrongly signed,
missing key usage, from an impostor CA with a real CA's DN.

Nothing here is secret or meant for production: the private keys are test keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from .. import oids
from ..certificate import CAFamily, SubjectDirectoryAttributesSpec, TaiwanCertificate, load_certificate
from ..trust import TrustStore

__all__ = [
    "DEFAULT_NOW",
    "CardCertificates",
    "FakeCA",
    "FakeGPKI",
    "Issued",
    "KeyPool",
    "subject_directory_attributes",
]

#: The instant fixtures are built around; tests inject it as their clock.
DEFAULT_NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

_ROOT_DN = "Government Root Certification Authority"


class KeyPool:
    """Hands out RSA keys. ``reuse=True`` recycles a few keys: fast, and fine where tests don't
    need distinct keys (they never do for end entities; CAs always get fresh keys)."""

    def __init__(self, *, reuse: bool = False, size: int = 2048, pool_size: int = 4) -> None:
        self.reuse = reuse
        self.size = size
        self._pool: list[rsa.RSAPrivateKey] = []
        self._pool_size = pool_size
        self._next = 0

    def fresh(self, size: int | None = None) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=size or self.size)

    def get(self) -> rsa.RSAPrivateKey:
        if not self.reuse:
            return self.fresh()
        if len(self._pool) < self._pool_size:
            self._pool.append(self.fresh())
            return self._pool[-1]
        key = self._pool[self._next % self._pool_size]
        self._next += 1
        return key


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def serial_number(self) -> int:
        return self.certificate.serial_number

    def parsed(self, **kwargs: Any) -> TaiwanCertificate:
        return load_certificate(self.der, **kwargs)


@dataclass(frozen=True)
class FakeCA(Issued):
    """A CA of the fake PKI, with the URLs its certificates point at."""

    label: str = ""
    family: CAFamily = CAFamily.UNKNOWN
    generation: str | None = None
    #: Base URL of this CA's repository (CRLs, certificates, OCSP).
    base_url: str = ""

    @property
    def name(self) -> x509.Name:
        return self.certificate.subject

    @property
    def complete_crl_url(self) -> str:
        return f"{self.base_url}/crl/{self.label}/complete.crl"

    def partition_crl_url(self, partition: int) -> str:
        return f"{self.base_url}/crl/{self.label}/CRL_{partition:04d}.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp/{self.label}"

    @property
    def ca_issuers_url(self) -> str:
        return f"{self.base_url}/certs/{self.label}.cer"


@dataclass(frozen=True)
class CardCertificates:
    """The two certificates a GPKI card holds: signing (SIGN) and encryption (KEYX)."""

    sign: Issued
    encrypt: Issued
    card_serial: str


def _name(*parts: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def subject_directory_attributes(
    attributes: Sequence[tuple[str, str, Literal["oid", "printable", "utf8"]]],
) -> bytes:
    """DER of a subjectDirectoryAttributes value: ``[(attribute OID, value, kind), ...]``."""
    kinds: dict[str, type[asn1.Asn1Value]] = {
        "oid": asn1.ObjectIdentifier,
        "printable": asn1.PrintableString,
        "utf8": asn1.UTF8String,
    }
    value = SubjectDirectoryAttributesSpec(
        [{"type": oid, "values": [asn1.Any.load(kinds[kind](text).dump())]} for oid, text, kind in attributes]
    )
    return bytes(value.dump())


def _ku(**bits: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


SIGNING_USAGE = _ku(digital_signature=True, content_commitment=True)
ENCRYPTION_USAGE = _ku(key_encipherment=True, data_encipherment=True)
CA_USAGE = _ku(key_cert_sign=True, crl_sign=True)


class FakeGPKI:
    """Build a fake GPKI. All CAs are created up front; end entities on demand.

    :param now: the instant the fixtures are centred on (validity, CRL dates).
    :param base_url: where CRLs, CA certificates and OCSP are served (a loopback server in tests).
    :param keys: key source for end entities (CAs always get fresh keys).
    """

    def __init__(
        self,
        *,
        now: dt.datetime = DEFAULT_NOW,
        base_url: str = "http://127.0.0.1:8080",
        keys: KeyPool | None = None,
        root_key_size: int = 2048,
        _cas: dict[str, FakeCA] | None = None,
    ) -> None:
        self.now = now
        self.base_url = base_url.rstrip("/")
        self.keys = keys or KeyPool()
        self._serial = secrets.randbits(60)
        if _cas is not None:
            self.cas = _cas
            return
        self.cas = {}
        ca_from = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        ca_to = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)
        root_size = root_key_size
        root_dn = _name((NameOID.COUNTRY_NAME, "TW"), (NameOID.ORGANIZATION_NAME, _ROOT_DN))
        g3_dn = _name(
            (NameOID.COUNTRY_NAME, "TW"),
            (NameOID.ORGANIZATION_NAME, "行政院"),
            (NameOID.COMMON_NAME, f"{_ROOT_DN} - G3"),
        )
        self._root("GRCA1", root_dn, "G1", root_size, ca_from, ca_to)
        self._root("GRCA2", root_dn, "G2", root_size, ca_from, ca_to)  # same DN as GRCA1, new key
        self._root("GRCA3", g3_dn, "G3", root_size, ca_from, ca_to)
        # An untrusted root with the GRCA DN: the impostor chain of the same-DN trap.
        self._root("ROGUE", root_dn, None, 2048, ca_from, ca_to)

        def gov_dn(ou: str) -> x509.Name:
            return _name(
                (NameOID.COUNTRY_NAME, "TW"),
                (NameOID.ORGANIZATION_NAME, "行政院"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            )

        moica_dn = gov_dn("內政部憑證管理中心")
        self._intermediate("MOICA1", moica_dn, "GRCA1", CAFamily.MOICA, "G1", ca_from, ca_to)
        self._intermediate("MOICA2", moica_dn, "GRCA2", CAFamily.MOICA, "G2", ca_from, ca_to)
        self._intermediate("MOICA3", moica_dn, "GRCA3", CAFamily.MOICA, "G3", ca_from, ca_to)
        self._intermediate("MOICA_ROGUE", moica_dn, "ROGUE", CAFamily.MOICA, None, ca_from, ca_to)
        self._intermediate("GCA", gov_dn("政府憑證管理中心"), "GRCA2", CAFamily.GCA, "G2", ca_from, ca_to)
        self._intermediate(
            "MOEACA", gov_dn("工商憑證管理中心"), "GRCA2", CAFamily.MOEACA, "G2", ca_from, ca_to
        )
        self._intermediate(
            "XCA", gov_dn("組織及團體憑證管理中心"), "GRCA2", CAFamily.XCA, "G2", ca_from, ca_to
        )
        self._intermediate(
            "GTESTCA", gov_dn("政府測試憑證管理中心"), "GRCA2", CAFamily.GTESTCA, None, ca_from, ca_to
        )
        # An issuing CA that is itself expired (like the real MOICA G1 since 2023).
        self._intermediate(
            "MOICA_EXPIRED",
            gov_dn("內政部憑證管理中心"),
            "GRCA1",
            CAFamily.MOICA,
            "G0",
            dt.datetime(2010, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        )

    # -- CA construction ------------------------------------------------------------------

    def next_serial(self) -> int:
        # 128-bit-looking serials like MOICA's, unique within this PKI.
        self._serial += 1
        return (secrets.randbits(64) << 64) | self._serial

    def _root(
        self, label: str, dn: x509.Name, generation: str | None, size: int, nb: dt.datetime, na: dt.datetime
    ) -> FakeCA:
        key = self.keys.fresh(size)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(dn)
            .issuer_name(dn)
            .public_key(key.public_key())
            .serial_number(self.next_serial())
            .not_valid_before(nb)
            .not_valid_after(na)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(CA_USAGE, critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        ca = FakeCA(
            cert, key, label=label, family=CAFamily.GRCA, generation=generation, base_url=self.base_url
        )
        self.cas[label] = ca
        return ca

    def _intermediate(
        self,
        label: str,
        dn: x509.Name,
        parent_label: str,
        family: CAFamily,
        generation: str | None,
        nb: dt.datetime,
        na: dt.datetime,
    ) -> FakeCA:
        parent = self.cas[parent_label]
        key = self.keys.fresh(2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(dn)
            .issuer_name(parent.name)
            .public_key(key.public_key())
            .serial_number(self.next_serial())
            .not_valid_before(nb)
            .not_valid_after(na)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False
            )
            .add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(oids.GPKI_ASSURANCE_LEVEL_3), None)]
                ),
                critical=False,
            )
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(parent.complete_crl_url)], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
            .sign(parent.key, hashes.SHA256())
        )
        ca = FakeCA(cert, key, label=label, family=family, generation=generation, base_url=self.base_url)
        self.cas[label] = ca
        return ca

    def __getitem__(self, label: str) -> FakeCA:
        return self.cas[label]

    @property
    def moica(self) -> FakeCA:
        """The current citizen-card CA (MOICA "G2")."""
        return self.cas["MOICA2"]

    @property
    def gca(self) -> FakeCA:
        return self.cas["GCA"]

    @property
    def gtestca(self) -> FakeCA:
        return self.cas["GTESTCA"]

    def trust_store(self, *, include: Iterable[str] | None = None) -> TrustStore:
        """A trust store of this PKI's genuine CAs (never the ROGUE chain), generations labelled."""
        labels = (
            list(include)
            if include is not None
            else [label for label in self.cas if not label.startswith(("ROGUE", "MOICA_ROGUE"))]
        )
        store = TrustStore.empty()
        for label in labels:
            ca = self.cas[label]
            store = store.with_certificates(
                [load_certificate(ca.der)], family=ca.family, generation=ca.generation, source=f"fake:{label}"
            )
        return store

    # -- end entities ---------------------------------------------------------------------

    def issue(
        self,
        ca: FakeCA | str,
        subject: x509.Name,
        *,
        usage: x509.KeyUsage | None = SIGNING_USAGE,
        directory_attributes: Sequence[tuple[str, str, Literal["oid", "printable", "utf8"]]] = (),
        policies: Sequence[str] = (oids.GPKI_ASSURANCE_LEVEL_3,),
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        serial: int | None = None,
        partition: int | None = 1,
        with_cdp: bool = True,
        with_aia: bool = True,
        key: rsa.RSAPrivateKey | None = None,
        signing_key: rsa.RSAPrivateKey | None = None,
        extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
        hash_algorithm: hashes.HashAlgorithm | None = None,
    ) -> Issued:
        """Issue an end-entity certificate. ``signing_key`` other than the CA's makes a
        wrongly-signed certificate that still names the CA as issuer (DN and AKI)."""
        ca = self.cas[ca] if isinstance(ca, str) else ca
        key = key or self.keys.get()
        nb = not_before or dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        na = not_after or nb.replace(year=nb.year + 5)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca.name)
            .public_key(key.public_key())
            .serial_number(serial if serial is not None else self.next_serial())
            .not_valid_before(nb)
            .not_valid_after(na)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
            )
        )
        if usage is not None:
            builder = builder.add_extension(usage, critical=True)
        if policies:
            builder = builder.add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]
                ),
                critical=False,
            )
        if with_cdp:
            urls = ([ca.partition_crl_url(partition)] if partition is not None else []) + [
                ca.complete_crl_url
            ]
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
                        for u in urls
                    ]
                ),
                critical=False,
            )
        if with_aia:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ca.ocsp_url)
                        ),
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(ca.ca_issuers_url),
                        ),
                    ]
                ),
                critical=False,
            )
        if directory_attributes:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier(oids.SUBJECT_DIRECTORY_ATTRIBUTES),
                    subject_directory_attributes(directory_attributes),
                ),
                critical=False,
            )
        for ext, critical in extra_extensions:
            builder = builder.add_extension(ext, critical=critical)
        # SHA-1 is allowed here on purpose: fixtures need weakly signed certificates too.
        algorithm: Any = hash_algorithm or hashes.SHA256()
        cert = builder.sign(signing_key or ca.key, algorithm)
        return Issued(cert, key)

    def citizen_subject(self, name: str, subject_serial: str | None = None) -> x509.Name:
        serial = subject_serial or "".join(str(secrets.randbelow(10)) for _ in range(16))
        return _name(
            (NameOID.COUNTRY_NAME, "TW"),
            (NameOID.COMMON_NAME, name),
            (NameOID.SERIAL_NUMBER, serial),
        )

    def issue_citizen(
        self,
        name: str,
        id_number: str,
        *,
        ca: FakeCA | str = "MOICA2",
        subject_serial: str | None = None,
        encryption: bool = False,
        **kwargs: Any,
    ) -> Issued:
        """A citizen (自然人) certificate: ``C=TW, CN=<name>, serialNumber=<16 digits>``, SDA
        subject type = natural person and ID tail = last 4 characters of ``id_number``."""
        kwargs.setdefault("usage", ENCRYPTION_USAGE if encryption else SIGNING_USAGE)
        kwargs.setdefault(
            "directory_attributes",
            [
                (oids.SUBJECT_TYPE, oids.SubjectType.NATURAL_PERSON, "oid"),
                (oids.ID_TAIL, id_number[-4:], "printable"),
            ],
        )
        return self.issue(ca, self.citizen_subject(name, subject_serial), **kwargs)

    def issue_citizen_card(
        self,
        name: str,
        id_number: str,
        *,
        ca: FakeCA | str = "MOICA2",
        card_serial: str | None = None,
        **kwargs: Any,
    ) -> CardCertificates:
        """Both certificates of one citizen card (same subject, two keys)."""
        serial = "".join(str(secrets.randbelow(10)) for _ in range(16))
        sign = self.issue_citizen(name, id_number, ca=ca, subject_serial=serial, **kwargs)
        enc = self.issue_citizen(name, id_number, ca=ca, subject_serial=serial, encryption=True, **kwargs)
        card = card_serial or "TP" + "".join(str(secrets.randbelow(10)) for _ in range(14))
        return CardCertificates(sign, enc, card)

    def agency_subject(
        self, agency: str, unit: str | None = None, subject_serial: str | None = None
    ) -> x509.Name:
        parts: list[tuple[x509.ObjectIdentifier, str]] = [
            (NameOID.COUNTRY_NAME, "TW"),
            (NameOID.ORGANIZATION_NAME, "行政院"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, agency),
        ]
        if unit:
            parts.append((NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
        parts.append((NameOID.COMMON_NAME, unit or agency))
        parts.append(
            (NameOID.SERIAL_NUMBER, subject_serial or "".join(str(secrets.randbelow(10)) for _ in range(16)))
        )
        return _name(*parts)

    def issue_agency(
        self,
        agency: str,
        agency_oid: str | None,
        *,
        unit: str | None = None,
        ca: FakeCA | str = "GCA",
        subject_serial: str | None = None,
        encryption: bool = False,
        **kwargs: Any,
    ) -> Issued:
        """An agency (機關) or unit (單位) certificate: ``C=TW, O=行政院, OU=<agency>[, OU=<unit>]``,
        SDA subject type agency/unit and the organisation OID (2.16.886.1.100.2.102)."""
        attrs: list[tuple[str, str, Literal["oid", "printable", "utf8"]]] = [
            (
                oids.SUBJECT_TYPE,
                oids.SubjectType.GOVERNMENT_UNIT if unit else oids.SubjectType.GOVERNMENT_AGENCY,
                "oid",
            )
        ]
        if agency_oid:
            attrs.append((oids.ORGANISATION_OID, agency_oid, "oid"))
        kwargs.setdefault("usage", ENCRYPTION_USAGE if encryption else SIGNING_USAGE)
        kwargs.setdefault("directory_attributes", attrs)
        return self.issue(ca, self.agency_subject(agency, unit, subject_serial), **kwargs)

    def issue_agency_card(
        self, agency: str, agency_oid: str | None, *, card_serial: str | None = None, **kwargs: Any
    ) -> CardCertificates:
        serial = "".join(str(secrets.randbelow(10)) for _ in range(16))
        sign = self.issue_agency(agency, agency_oid, subject_serial=serial, **kwargs)
        enc = self.issue_agency(agency, agency_oid, subject_serial=serial, encryption=True, **kwargs)
        card = card_serial or "GC" + "".join(str(secrets.randbelow(10)) for _ in range(14))
        return CardCertificates(sign, enc, card)

    def issue_ocsp_responder(self, ca: FakeCA | str, *, no_check: bool = True) -> Issued:
        """A delegated OCSP responder certificate (EKU OCSPSigning) issued by ``ca``."""
        ca = self.cas[ca] if isinstance(ca, str) else ca
        extra: list[tuple[x509.ExtensionType, bool]] = [
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
        ]
        if no_check:
            extra.append((x509.OCSPNoCheck(), False))
        subject = _name(
            (NameOID.COUNTRY_NAME, "TW"),
            (NameOID.ORGANIZATION_NAME, "行政院"),
            (NameOID.COMMON_NAME, f"{ca.label} OCSP Responder"),
        )
        return self.issue(
            ca,
            subject,
            usage=_ku(digital_signature=True),
            policies=(),
            with_cdp=False,
            with_aia=False,
            extra_extensions=extra,
            key=self.keys.fresh(),
        )

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write every CA certificate and key to ``directory`` (with ``cas.json``)."""
        root = Path(directory)
        (root / "ca").mkdir(parents=True, exist_ok=True)
        index = {}
        for label, ca in self.cas.items():
            (root / "ca" / f"{label}.pem").write_bytes(ca.pem)
            (root / "ca" / f"{label}.key.pem").write_bytes(ca.key_pem)
            index[label] = {"family": ca.family.value, "generation": ca.generation}
        meta = {"now": self.now.isoformat(), "base_url": self.base_url, "cas": index}
        (root / "cas.json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, base_url: str | None = None, keys: KeyPool | None = None
    ) -> FakeGPKI:
        """Load a PKI written by :meth:`save`. ``base_url`` changes where *new* certificates point."""
        root = Path(directory)
        meta = json.loads((root / "cas.json").read_text(encoding="utf-8"))
        cas = {}
        url = (base_url or meta["base_url"]).rstrip("/")
        for label, info in meta["cas"].items():
            cert = x509.load_pem_x509_certificate((root / "ca" / f"{label}.pem").read_bytes())
            key = serialization.load_pem_private_key((root / "ca" / f"{label}.key.pem").read_bytes(), None)
            assert isinstance(key, rsa.RSAPrivateKey)
            cas[label] = FakeCA(
                cert,
                key,
                label=label,
                family=CAFamily(info["family"]),
                generation=info["generation"],
                base_url=url,
            )
        return cls(now=dt.datetime.fromisoformat(meta["now"]), base_url=url, keys=keys, _cas=cas)

    def rebased(self, base_url: str) -> FakeGPKI:
        """The same CAs, issuing certificates that point at ``base_url`` (e.g. a test server)."""
        cas = {k: dataclasses.replace(v, base_url=base_url.rstrip("/")) for k, v in self.cas.items()}
        return FakeGPKI(now=self.now, base_url=base_url, keys=self.keys, _cas=cas)
