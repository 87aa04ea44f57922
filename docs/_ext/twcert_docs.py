"""Sphinx directives that render reference tables from the code and the bundled files.

``{twcert-errors}`` walks :func:`twcert.errors.catalogue` (after importing the packages that add
errors: the vacancy domain, the card side) and emits one row per stable code: class, the message
and the action in zh-TW and English, and the HTTP status adapters use.

``{twcert-anchors}`` decodes the CA certificates bundled in ``src/twcert/anchors/`` and emits
their subject, serial, validity, key identifiers, fingerprints and CRL/AIA addresses, so the page
cannot drift from the files.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

_PACKAGES = (
    "twcert",
    "twcert.card.errors",
    "twcert_vacancy.errors",
    "twcert.agency.orglist",
    "twcert.contrib.flask",
)


def _row(cells: list[str]) -> nodes.row:
    row = nodes.row()
    for text in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text=text)
        row += entry
    return row


class ErrorCatalogue(Directive):
    has_content = False

    def run(self) -> list[nodes.Node]:
        for name in _PACKAGES:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional extra is not installed where the docs build
                continue
        from twcert.errors import catalogue

        headers = [
            "Code",
            "Class",
            "Message (zh-TW)",
            "Message (English)",
            "Action (zh-TW)",
            "Action (English)",
            "HTTP",
        ]
        table = nodes.table()
        group = nodes.tgroup(cols=len(headers))
        table += group
        for width in (12, 14, 24, 24, 18, 18, 5):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row(headers)
        group += head
        body = nodes.tbody()
        for code, cls in catalogue().items():
            body += _row(
                [
                    code,
                    f"{cls.__module__}.{cls.__qualname__}",
                    cls.message_zh,
                    cls.message_en,
                    cls.action_zh,
                    cls.action_en,
                    str(cls.http_status),
                ]
            )
        group += body
        return [table]


_ANCHORS = Path(__file__).resolve().parents[2] / "src" / "twcert" / "anchors"


def _hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def _anchor_fields(pem: bytes) -> list[tuple[str, str]]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_bytes(Encoding.DER)
    ext = cert.extensions

    def find(oid: x509.ObjectIdentifier) -> Any:
        try:
            return ext.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            return None

    ski = find(x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    aki = find(x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    cdp = find(x509.oid.ExtensionOID.CRL_DISTRIBUTION_POINTS)
    aia = find(x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    policies = find(x509.oid.ExtensionOID.CERTIFICATE_POLICIES)
    crls = [name.value for point in cdp or () for name in point.full_name or ()]
    methods = {
        x509.oid.AuthorityInformationAccessOID.OCSP: "OCSP",
        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS: "CA issuers",
    }
    access = [
        f"{methods.get(d.access_method, d.access_method.dotted_string)}: {d.access_location.value}"
        for d in aia or ()
    ]
    key = cert.public_key()
    digest = cert.signature_hash_algorithm
    return [
        ("Subject", cert.subject.rfc4514_string()),
        ("Issuer", cert.issuer.rfc4514_string()),
        ("Serial", f"{cert.serial_number:X}"),
        ("Not before (UTC)", f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S}"),
        ("Not after (UTC)", f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S}"),
        ("Key", f"RSA-{getattr(key, 'key_size', '?')}"),
        ("Signature hash", digest.name if digest else "—"),
        ("Subject key identifier", _hex(ski.digest) if ski else "—"),
        ("Authority key identifier", _hex(aki.key_identifier) if aki and aki.key_identifier else "—"),
        ("Policies", ", ".join(p.policy_identifier.dotted_string for p in policies or ()) or "—"),
        ("CRL distribution points", ", ".join(crls) or "—"),
        ("Authority information access", ", ".join(access) or "—"),
        ("SHA-256 (DER)", hashlib.sha256(der).hexdigest()),
        ("SHA-1 (DER)", hashlib.sha1(der).hexdigest()),
    ]


class AnchorTable(Directive):
    has_content = False

    def run(self) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        for path in sorted(_ANCHORS.glob("*.pem")):
            section = nodes.rubric(text=path.name)
            table = nodes.table()
            group = nodes.tgroup(cols=2)
            table += group
            group += nodes.colspec(colwidth=22)
            group += nodes.colspec(colwidth=78)
            body = nodes.tbody()
            for name, value in _anchor_fields(path.read_bytes()):
                body += _row([name, value])
            group += body
            out += [section, table]
        return out


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("twcert-errors", ErrorCatalogue)
    app.add_directive("twcert-anchors", AnchorTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
