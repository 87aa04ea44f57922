"""A small PKI of arbitrary shape for path-validation tests, built with cryptography only.

Unlike :mod:`twcert.testing.pki` (the GPKI look-alike), every constraint is a parameter here:
path lengths, policies, policy mappings, extendedKeyUsage, name constraints, validity, and
certificates or CRLs whose outer signatureAlgorithm differs from the signed one. Keys are
ECDSA P-256 (fast to make) unless RSA is asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from twcert import CAFamily, load_certificate, oids
from twcert.trust import TrustStore

DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
L3 = oids.GPKI_ASSURANCE_LEVEL_3
ANY_POLICY = "2.5.29.32.0"
# DER of the AlgorithmIdentifiers swapped into a tbsCertificate / tbsCertList.
ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _key(use_rsa: bool) -> Key:
    return rsa.generate_private_key(65537, 2048) if use_rsa else ec.generate_private_key(ec.SECP256R1())


def _policies(oids_: Sequence[str]) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in oids_])


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _sequence(*parts: bytes) -> bytes:
    body = b"".join(parts)
    return b"\x30" + _der_length(len(body)) + body


def _elements(der: bytes) -> list[bytes]:
    """The encoded elements inside the SEQUENCE ``der`` (short or long definite lengths)."""

    def header(pos: int) -> tuple[int, int]:
        first = der[pos + 1]
        if first < 0x80:
            return pos + 2, first
        count = first & 0x7F
        return pos + 2 + count, int.from_bytes(der[pos + 2 : pos + 2 + count], "big")

    start, length = header(0)
    pos, end, out = start, start + length, []
    while pos < end:
        body, size = header(pos)
        out.append(der[pos : body + size])
        pos = body + size
    return out


def without_next_update(tbs: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Re-sign a tbsCertList (version present) with its nextUpdate removed (cryptography's
    builder always writes one)."""
    parts = _elements(tbs)
    del parts[4]  # version, signature, issuer, thisUpdate, nextUpdate
    new_tbs = _sequence(*parts)
    signature = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    return _sequence(new_tbs, ECDSA_SHA256, bit_string)


def mismatched(tbs: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Sign ``tbs`` (which names ecdsa-with-SHA384 inside) with SHA-256 and label the outer
    signatureAlgorithm ecdsa-with-SHA256: the signature verifies, the two algorithms differ."""
    assert ECDSA_SHA384 in tbs
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    return _sequence(tbs, ECDSA_SHA256, bit_string)


@dataclass
class Node:
    """A CA of the PKI."""

    label: str
    name: x509.Name
    key: Key
    cert: x509.Certificate
    parent: Node | None

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)

    @property
    def crl_url(self) -> str:
        return f"http://pki.test/{self.label}.crl"


@dataclass
class PathPKI:
    """CAs by label; :meth:`ca`, :meth:`leaf` and :meth:`crl` add to it."""

    now: dt.datetime = NOW
    cas: dict[str, Node] = field(default_factory=dict)
    _serial: int = 1000

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def ca(
        self,
        label: str,
        parent: str | None = None,
        *,
        path_length: int | None = None,
        policies: Sequence[str] | None = (L3,),
        eku: Sequence[x509.ObjectIdentifier] | None = None,
        name_constraints: x509.NameConstraints | None = None,
        policy_mappings: Sequence[tuple[str, str]] = (),
        inhibit_any_policy: int | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        organization: str = "Path Test",
        use_rsa: bool = False,
    ) -> Node:
        key = _key(use_rsa)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "TW"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, f"CA {label}"),
            ]
        )
        up = self.cas[parent] if parent is not None else None
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(up.name if up else name)
            .public_key(key.public_key())
            .serial_number(self._next_serial())
            .not_valid_before(not_before or self.now - 365 * DAY)
            .not_valid_after(not_after or self.now + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if up is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(up.key.public_key()), critical=False
            ).add_extension(
                x509.CRLDistributionPoints(
                    [x509.DistributionPoint([x509.UniformResourceIdentifier(up.crl_url)], None, None, None)]
                ),
                critical=False,
            )
        if policies is not None:
            builder = builder.add_extension(_policies(policies), critical=False)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        if name_constraints is not None:
            builder = builder.add_extension(name_constraints, critical=True)
        if policy_mappings:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("2.5.29.33"), _policy_mappings_der(policy_mappings)
                ),
                critical=True,
            )
        if inhibit_any_policy is not None:
            builder = builder.add_extension(x509.InhibitAnyPolicy(inhibit_any_policy), critical=True)
        signer = up.key if up is not None else key
        cert = builder.sign(signer, hashes.SHA256())
        node = Node(label, name, key, cert, up)
        self.cas[label] = node
        return node

    def leaf(
        self,
        issuer: str,
        *,
        policies: Sequence[str] = (L3,),
        eku: Sequence[x509.ObjectIdentifier] | None = None,
        eku_critical: bool = False,
        algorithm_mismatch: bool = False,
        serial: int | None = None,
    ) -> bytes:
        """A signing certificate (digitalSignature + nonRepudiation) issued by ``issuer``."""
        up = self.cas[issuer]
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Holder")]))
            .issuer_name(up.name)
            .public_key(key.public_key())
            .serial_number(serial if serial is not None else self._next_serial())
            .not_valid_before(self.now - 30 * DAY)
            .not_valid_after(self.now + 365 * DAY)
            .add_extension(
                x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(up.key.public_key()), critical=False
            )
            .add_extension(
                x509.CRLDistributionPoints(
                    [x509.DistributionPoint([x509.UniformResourceIdentifier(up.crl_url)], None, None, None)]
                ),
                critical=False,
            )
        )
        if policies:
            builder = builder.add_extension(_policies(policies), critical=False)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
        if algorithm_mismatch:
            assert isinstance(up.key, ec.EllipticCurvePrivateKey)
            draft = builder.sign(up.key, hashes.SHA384())
            return mismatched(draft.tbs_certificate_bytes, up.key)
        return builder.sign(up.key, hashes.SHA256()).public_bytes(Encoding.DER)

    def crl(
        self,
        issuer: str,
        revoked: Sequence[tuple[int, x509.ReasonFlags | None]] = (),
        *,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | bool | None = True,
        algorithm_mismatch: bool = False,
    ) -> bytes:
        """A complete CRL of ``issuer``; ``next_update=None`` leaves nextUpdate out."""
        up = self.cas[issuer]
        this = this_update or self.now - DAY
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(up.name)
            .last_update(this)
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(up.key.public_key()), critical=False
            )
        )
        if next_update is True or next_update is None:
            builder = builder.next_update(this + 7 * DAY)  # removed below when None
        elif isinstance(next_update, dt.datetime):
            builder = builder.next_update(next_update)
        for serial, reason in revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(self.now - 3 * DAY)
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        if algorithm_mismatch:
            assert isinstance(up.key, ec.EllipticCurvePrivateKey)
            draft = builder.sign(up.key, hashes.SHA384())
            return mismatched(draft.tbs_certlist_bytes, up.key)
        if next_update is None:
            assert isinstance(up.key, ec.EllipticCurvePrivateKey)
            return without_next_update(builder.sign(up.key, hashes.SHA256()).tbs_certlist_bytes, up.key)
        return builder.sign(up.key, hashes.SHA256()).public_bytes(Encoding.DER)

    def trust_store(self, *, anchors_only: bool = False) -> TrustStore:
        """The anchors (GRCA family) and, unless ``anchors_only``, every intermediate (MOICA)."""
        store = TrustStore.empty()
        for node in self.cas.values():
            if node.parent is None:
                family = CAFamily.GRCA
            elif anchors_only:
                continue
            else:
                family = CAFamily.MOICA
            store = store.with_certificates([load_certificate(node.der)], family=family, source=node.label)
        return store


def _policy_mappings_der(pairs: Sequence[tuple[str, str]]) -> bytes:
    def oid(dotted: str) -> bytes:
        arcs = [int(a) for a in dotted.split(".")]
        body = bytearray([40 * arcs[0] + arcs[1]])
        for arc in arcs[2:]:
            chunk = [arc & 0x7F]
            arc >>= 7
            while arc:
                chunk.append(0x80 | (arc & 0x7F))
                arc >>= 7
            body += bytes(reversed(chunk))
        return b"\x06" + _der_length(len(body)) + bytes(body)

    return _sequence(*(_sequence(oid(a), oid(b)) for a, b in pairs))


# --------------------------------------------------------------------------- scenarios

MINUTE = dt.timedelta(minutes=1)
NO_ALGORITHM_MATCH = "pyhanko-certvalidator does not compare the outer and the signed signature algorithm"
CLIENT_AUTH = x509.ExtendedKeyUsageOID.CLIENT_AUTH
SERVER_AUTH = x509.ExtendedKeyUsageOID.SERVER_AUTH


@dataclass
class PathCase:
    """One certificate to judge, with the PKI it lives in and the CRLs served."""

    name: str
    category: int  # the issue-12 category (1-6) it covers
    pki: PathPKI
    issuer: str
    leaf: bytes
    expect: str  # "ok" or the twcert error code
    crls: list[tuple[str, bytes]]  # (issuing CA label, DER)
    #: judge -> why its verdict differs from the fail-closed one
    differs: dict[str, str] = field(default_factory=dict)
    trusted_intermediates: bool = True


def _all_crls(pki: PathPKI, **overrides: bytes) -> list[tuple[str, bytes]]:
    return [(label, overrides.get(label) or pki.crl(label)) for label in pki.cas]


def _chain(*shape: tuple[str, dict[str, object]]) -> PathPKI:
    pki = PathPKI()
    parent: str | None = None
    for label, options in shape:
        pki.ca(label, parent, **options)  # type: ignore[arg-type]
        parent = label
    return pki


def path_cases() -> list[PathCase]:
    """One or more cases per category of issue 12 (1: path constraints above the issuing CA,
    2: policies over the whole path, 3: extendedKeyUsage, 4: signature algorithm match,
    5: CRLs of a 3-level chain, 6: revocation freshness and duplicate serials)."""
    cases: list[PathCase] = []

    def add(name: str, category: int, pki: PathPKI, leaf: bytes, expect: str, **kw: object) -> None:
        issuer = list(pki.cas)[-1]
        crls = kw.pop("crls", None) or _all_crls(pki)
        cases.append(PathCase(name, category, pki, issuer, leaf, expect, crls, **kw))  # type: ignore[arg-type]

    three = (("root", {}), ("int1", {}), ("int2", {}))
    pki = _chain(*three)
    add("3-level chain, every CRL served", 5, pki, pki.leaf("int2"), "ok")
    pki = _chain(("root", {"use_rsa": True}), ("int1", {"use_rsa": True}), ("int2", {}))
    add("3-level chain, RSA above ECDSA", 5, pki, pki.leaf("int2"), "ok")

    pki = _chain(("root", {}), ("int1", {"path_length": 0}), ("int2", {}))
    add("pathLen 0 on the CA above the issuing CA", 1, pki, pki.leaf("int2"), "CERT_UNTRUSTED")
    pki = _chain(("root", {"path_length": 0}), ("int1", {}))
    add("anchor pathLen 0 with an intermediate", 1, pki, pki.leaf("int1"), "CERT_UNTRUSTED")
    pki = _chain(("root", {"path_length": 1}), ("int1", {}), ("int2", {}))
    add("anchor pathLen 1 with two intermediates", 1, pki, pki.leaf("int2"), "CERT_UNTRUSTED")
    pki = _chain(("root", {"path_length": 1}), ("int1", {}))
    add("anchor pathLen 1 with one intermediate", 1, pki, pki.leaf("int1"), "ok")
    pki = _chain(("root", {"not_after": NOW - DAY, "not_before": NOW - 900 * DAY}), ("int1", {}))
    add("expired anchor above an intermediate", 1, pki, pki.leaf("int1"), "CERT_UNTRUSTED")
    elsewhere = x509.NameConstraints(
        permitted_subtrees=[
            x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Elsewhere")]))
        ],
        excluded_subtrees=None,
    )
    pki = _chain(("root", {"name_constraints": elsewhere}), ("int1", {}))
    add("anchor nameConstraints exclude the CA", 1, pki, pki.leaf("int1"), "CERT_UNTRUSTED")

    pki = _chain(("root", {}), ("int1", {"policies": ("1.2.3.4",)}), ("int2", {}))
    add("a CA above asserts only another policy", 2, pki, pki.leaf("int2"), "CERT_POLICY")
    pki = _chain(("root", {}), ("int1", {"policies": None}))
    add("issuing CA without certificatePolicies", 2, pki, pki.leaf("int1"), "CERT_POLICY")
    pki = _chain(("root", {}), ("int1", {"policies": (ANY_POLICY,)}), ("int2", {}))
    add("a CA above asserts anyPolicy", 2, pki, pki.leaf("int2"), "ok")
    pki = _chain(
        ("root", {}),
        ("int1", {"policy_mappings": ((L3, "1.2.3.9"),)}),
        ("int2", {"policies": ("1.2.3.8", L3)}),
    )
    add("policy mapping leads away from the required policy", 2, pki, pki.leaf("int2"), "CERT_UNTRUSTED")
    pki = _chain(("root", {}), ("int1", {"inhibit_any_policy": 0}), ("int2", {"policies": (ANY_POLICY,)}))
    add("anyPolicy inhibited above the issuing CA", 2, pki, pki.leaf("int2"), "CERT_UNTRUSTED")

    pki = _chain(("root", {}), ("int1", {}))
    add(
        "leaf EKU serverAuth only (critical)",
        3,
        pki,
        pki.leaf("int1", eku=[SERVER_AUTH], eku_critical=True),
        "CERT_PURPOSE",
    )
    add("leaf EKU clientAuth", 3, pki, pki.leaf("int1", eku=[CLIENT_AUTH]), "ok")
    pki = _chain(("root", {}), ("int1", {"eku": [SERVER_AUTH]}))
    add(
        "issuing CA EKU serverAuth only",
        3,
        pki,
        pki.leaf("int1"),
        "CERT_PURPOSE",
        differs={"pyhanko": "pyhanko-certvalidator applies no extendedKeyUsage of CA certificates"},
    )

    pki = _chain(("root", {}), ("int1", {}))
    add(
        "leaf signatureAlgorithm differs from tbsCertificate.signature",
        4,
        pki,
        pki.leaf("int1", algorithm_mismatch=True),
        "CERT_UNTRUSTED",
        differs={"pyhanko": NO_ALGORITHM_MATCH},
    )
    pki = _chain(("root", {}), ("int1", {}))
    add(
        "CRL signatureAlgorithm differs from tbsCertList.signature",
        4,
        pki,
        pki.leaf("int1"),
        "REVOCATION_UNKNOWN",
        crls=_all_crls(pki, int1=pki.crl("int1", algorithm_mismatch=True)),
        differs={"pyhanko": NO_ALGORITHM_MATCH},
    )

    pki = _chain(("root", {}), ("int1", {}))
    add(
        "CRL without nextUpdate, three days old",
        6,
        pki,
        pki.leaf("int1"),
        "REVOCATION_UNKNOWN",
        crls=_all_crls(pki, int1=pki.crl("int1", this_update=NOW - 3 * DAY, next_update=None)),
        differs={"openssl": "OpenSSL treats a CRL without nextUpdate as never out of date"},
    )
    pki = _chain(("root", {}), ("int1", {}))
    add(
        "CRL without nextUpdate, 20 minutes old",
        6,
        pki,
        pki.leaf("int1"),
        "ok",
        # pyhanko's own limit without nextUpdate is 30 minutes; twcert's max_crl_age a day.
        crls=_all_crls(pki, int1=pki.crl("int1", this_update=NOW - 20 * MINUTE, next_update=None)),
    )
    far = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    pki = _chain(("root", {}), ("int1", {}))
    add(
        "CRLs with nextUpdate 9999-12-31",
        6,
        pki,
        pki.leaf("int1"),
        "ok",
        crls=[(label, pki.crl(label, next_update=far)) for label in pki.cas],
    )
    pki = _chain(("root", {}), ("int1", {}))
    leaf = pki.leaf("int1", serial=4242)
    twice = pki.crl(
        "int1", [(4242, x509.ReasonFlags.remove_from_crl), (4242, x509.ReasonFlags.key_compromise)]
    )
    add(
        "serial listed removeFromCRL, then keyCompromise",
        6,
        pki,
        leaf,
        "CERT_REVOKED",
        crls=_all_crls(pki, int1=twice),
        differs={
            "openssl": "OpenSSL decides by the entry it finds first, and removeFromCRL (meant "
            "for delta CRLs) then releases the certificate; fail closed, any other entry revokes",
            "pyhanko": "pyhanko-certvalidator, like OpenSSL, decides by the first matching entry",
        },
    )
    return cases
