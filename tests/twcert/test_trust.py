from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from twcert import CAFamily, TrustStore
from twcert.errors import ConfigurationError, TrustAnchorPinError
from twcert.trust import BUNDLED_PINS


def test_bundled_pins_match_the_files(real_ca_dir: Path) -> None:
    for name, pin in BUNDLED_PINS.items():
        der = x509.load_pem_x509_certificate((real_ca_dir / name).read_bytes()).public_bytes(Encoding.DER)
        assert hashlib.sha256(der).hexdigest() == pin, name


def test_bundled_pins_match_the_published_table(real_ca_dir: Path) -> None:
    # SOURCES.md (copied next to the anchors) lists each file's SHA-256; parse its table.
    table = (real_ca_dir / "SOURCES.md").read_text(encoding="utf-8")
    published = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 6 and cells[0].endswith(".pem"):
            published[cells[0]] = cells[-1]
    assert published == dict(BUNDLED_PINS)


def test_default_store_holds_the_eight_real_cas() -> None:
    store = TrustStore.default()
    assert len(store) == 8
    assert {ca.name for ca in store.anchors} == {"GRCA G1", "GRCA G2", "GRCA G3"}
    assert {ca.name for ca in store.intermediates} == {
        "MOICA G1",
        "MOICA G2",
        "MOICA G3",
        "MOEACA G2",
        "MOEACA G3",
    }
    grca_dn = [ca for ca in store.anchors if ca.generation in ("G1", "G2")]
    assert grca_dn[0].certificate.subject == grca_dn[1].certificate.subject
    assert grca_dn[0].key_identifier != grca_dn[1].key_identifier


def test_lookup_by_key_identifier_never_by_dn() -> None:
    store = TrustStore.default()
    moica2 = next(ca for ca in store if ca.name == "MOICA G2")
    assert store.by_key_identifier(moica2.key_identifier) == (moica2,)
    assert store.by_key_identifier(b"\x00" * 20) == ()
    assert store.by_key_identifier(None) == ()


def test_with_pem_files_adds_anchor_and_intermediate(fixture_set, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = fixture_set.pki.cas["GRCA2"]
    gca = fixture_set.pki.cas["GCA"]
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "gca.pem").write_bytes(gca.pem)
    store = TrustStore.default().with_pem_files([tmp_path / "root.pem", tmp_path / "gca.pem"])
    assert len(store) == 10
    added = {ca.certificate.sha256: ca for ca in store}
    root_ca = added[hashlib.sha256(root.der).hexdigest()]
    gca_ca = added[hashlib.sha256(gca.der).hexdigest()]
    assert root_ca.is_anchor and not gca_ca.is_anchor
    assert gca_ca.family is CAFamily.GCA
    assert store.issuers[gca_ca.key_identifier].family is CAFamily.GCA


def test_pins_are_enforced(fixture_set, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gca = fixture_set.pki.cas["GCA"]
    path = tmp_path / "gca.pem"
    path.write_bytes(gca.pem)
    good = hashlib.sha256(gca.der).hexdigest()
    colon = ":".join(good[i : i + 2] for i in range(0, 64, 2)).upper()
    assert len(TrustStore.empty().with_pem_files(path, pins=[colon])) == 1
    with pytest.raises(TrustAnchorPinError) as info:
        TrustStore.empty().with_pem_files(path, pins=["00" * 32])
    assert info.value.code == "TRUST_PIN_MISMATCH"


def test_bad_ca_files_are_configuration_errors(fixture_set, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError):
        TrustStore.empty().with_pem_files(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_bytes(b"junk")
    with pytest.raises(ConfigurationError):
        TrustStore.empty().with_pem_files(tmp_path / "junk.pem")
    (tmp_path / "leaf.pem").write_bytes(fixture_set.pem("citizen-wang"))
    with pytest.raises(ConfigurationError, match="not a CA"):
        TrustStore.empty().with_pem_files(tmp_path / "leaf.pem")
