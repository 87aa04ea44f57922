"""SoftHSM2 "cards" laid out like real GPKI cards, for tests and the demo.

:func:`provision` makes a self-contained SoftHSM installation in a directory: its own
``softhsm2.conf`` and token directory, one token per card, each holding the signing key pair and
certificate (``CKA_ID``/label ``SIGN``), optionally the encryption pair (``KEYX``), the CA
certificates, and the 16-character card number in a public data object (SoftHSM chooses token
serials itself; see :mod:`twcert.card.layout`). It returns the module path and the environment
(``SOFTHSM2_CONF``) a process needs to see those tokens::

    hsm = provision(tmp / "hsm", [SoftCard.from_fixture(fixtures, "citizen-wang", pin="123456")])
    subprocess.run(["twcert", "agent", "--module", hsm.module], env=hsm.environ())

SoftHSM reads ``SOFTHSM2_CONF`` when a process initialises the module, so tokens are created by
``softhsm2-util`` and a child Python process: the caller's process is never bound to this
configuration unless it chooses to be (set ``os.environ.update(hsm.env)`` before loading the
module). SoftHSM never locks a PIN; the PIN ledger models the card's lock.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import SoftHsmError
from .layout import (
    CA_LABEL,
    CARD_SERIAL_APPLICATION,
    CARD_SERIAL_LABEL,
    KEYX_ID,
    KEYX_LABEL,
    ROOT_CA_LABEL,
    SIGN_ID,
    SIGN_LABEL,
)

if TYPE_CHECKING:
    from ..testing.fixtures import FixtureSet

__all__ = ["MODULE_CANDIDATES", "SoftCard", "SoftHsm", "SoftHsmToken", "find_module", "provision"]

#: Where distributions put the SoftHSM2 module (Debian/Ubuntu multiarch first).
MODULE_CANDIDATES: Final = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
_MANIFEST: Final = "softhsm.json"
_TIMEOUT: Final = 120


def find_module() -> str:
    """The SoftHSM2 module: ``$TWCERT_SOFTHSM_MODULE`` or the first of :data:`MODULE_CANDIDATES`."""
    configured = os.environ.get("TWCERT_SOFTHSM_MODULE")
    if configured:
        if not Path(configured).is_file():
            raise SoftHsmError(
                f"TWCERT_SOFTHSM_MODULE={configured} does not exist", reason="module not found"
            )
        return configured
    for candidate in MODULE_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise SoftHsmError("libsofthsm2.so not found", reason="libsofthsm2.so not found (Debian: softhsm2)")


@dataclass(frozen=True)
class SoftCard:
    """One card to put on a SoftHSM token."""

    card_serial: str
    pin: str
    so_pin: str
    sign_certificate: x509.Certificate
    sign_key: rsa.RSAPrivateKey
    encryption_certificate: x509.Certificate | None = None
    encryption_key: rsa.RSAPrivateKey | None = None
    ca_certificates: tuple[x509.Certificate, ...] = ()
    #: Token label (at most 32 bytes of UTF-8); defaults to the card number.
    label: str | None = None
    #: CKA_ID and label of each pair: the GPKI layout by default; other values model cards
    #: (or middleware) that name them differently, e.g. ``b"\x01"``/"RSACert1".
    sign_id: bytes = SIGN_ID
    sign_label: str = SIGN_LABEL
    keyx_id: bytes = KEYX_ID
    keyx_label: str = KEYX_LABEL

    @property
    def token_label(self) -> str:
        return self.label or self.card_serial

    @classmethod
    def from_fixture(
        cls, fixtures: FixtureSet, name: str, *, pin: str, so_pin: str = "87654321", **layout: Any
    ) -> SoftCard:
        """A card from :class:`twcert.testing.fixtures.FixtureSet` entry ``name`` (e.g.
        ``"citizen-wang"``): its ``<name>-enc`` pair when present, and its CA chain."""
        entry = fixtures.certificates[name]
        serial = entry.get("card_serial")
        if not serial:
            raise SoftHsmError(f"fixture {name} has no card_serial", reason=f"{name} is not a card")
        sign = fixtures.issued(name)
        encryption = fixtures.issued(f"{name}-enc") if f"{name}-enc" in fixtures.certificates else None
        chain: list[x509.Certificate] = []
        current = sign.certificate
        by_subject = {ca.certificate.subject: ca.certificate for ca in fixtures.pki.cas.values()}
        while current.issuer != current.subject and current.issuer in by_subject:
            current = by_subject[current.issuer]
            chain.append(current)
        return cls(
            card_serial=str(serial),
            pin=pin,
            so_pin=so_pin,
            sign_certificate=sign.certificate,
            sign_key=sign.key,
            encryption_certificate=encryption.certificate if encryption else None,
            encryption_key=encryption.key if encryption else None,
            ca_certificates=tuple(chain),
            **layout,
        )


@dataclass(frozen=True, slots=True)
class SoftHsmToken:
    """What was provisioned for one card (PINs included: these are test tokens)."""

    card_serial: str
    label: str
    pin: str
    so_pin: str


@dataclass(frozen=True)
class SoftHsm:
    """A provisioned SoftHSM installation."""

    directory: Path
    module: str
    config: Path
    tokens: tuple[SoftHsmToken, ...]

    @property
    def env(self) -> dict[str, str]:
        """The variables a process needs to see these tokens."""
        return {"SOFTHSM2_CONF": str(self.config)}

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) with :attr:`env` applied, for subprocesses."""
        return {**(os.environ if base is None else base), **self.env}

    def token(self, card_serial: str) -> SoftHsmToken:
        for token in self.tokens:
            if token.card_serial == card_serial:
                return token
        raise KeyError(card_serial)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SoftHsm:
        """Reopen a directory made by :func:`provision` (e.g. when the demo restarts)."""
        root = Path(directory)
        try:
            data = json.loads((root / _MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SoftHsmError(f"{root / _MANIFEST}: {exc}", reason="not a provisioned directory") from None
        return cls(
            directory=root,
            module=str(data["module"]),
            config=root / "softhsm2.conf",
            tokens=tuple(SoftHsmToken(**token) for token in data["tokens"]),
        )


def _der(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _key(key: rsa.RSAPrivateKey) -> str:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def _ca_id(certificate: x509.Certificate) -> bytes:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return certificate.fingerprint(hashes.SHA1())[:8]


def _card_spec(card: SoftCard) -> dict[str, Any]:
    pairs: list[dict[str, Any]] = [
        {
            "id": card.sign_id.hex(),
            "label": card.sign_label,
            "cert": _der(card.sign_certificate),
            "key": _key(card.sign_key),
            "sign": True,
        }
    ]
    if card.encryption_certificate is not None and card.encryption_key is not None:
        pairs.append(
            {
                "id": card.keyx_id.hex(),
                "label": card.keyx_label,
                "cert": _der(card.encryption_certificate),
                "key": _key(card.encryption_key),
                "sign": False,
            }
        )
    cas = [
        {
            "id": _ca_id(ca).hex(),
            "label": ROOT_CA_LABEL if ca.issuer == ca.subject else CA_LABEL,
            "cert": _der(ca),
        }
        for ca in card.ca_certificates
    ]
    return {
        "label": card.token_label,
        "pin": card.pin,
        "serial": card.card_serial,
        "pairs": pairs,
        "cas": cas,
    }


def _run(command: Sequence[str], env: Mapping[str, str], what: str, stdin: str | None = None) -> None:
    try:
        result = subprocess.run(
            list(command),
            check=False,
            env=dict(env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SoftHsmError(f"{what}: {exc}", reason=what) from None
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-800:]
        raise SoftHsmError(
            f"{what} failed ({result.returncode}): {output}", reason=f"{what}: {output[-200:]}"
        )


def provision(
    directory: str | os.PathLike[str],
    cards: Sequence[SoftCard],
    *,
    module: str | None = None,
    softhsm_util: str | None = None,
) -> SoftHsm:
    """Create ``directory`` with one initialised SoftHSM token per card, laid out as a GPKI card.

    :param directory: must not hold tokens yet (it is created if missing).
    :raises SoftHsmError: SoftHSM is missing, the directory is already provisioned, or a step failed.
    """
    if not cards:
        raise SoftHsmError("no cards given", reason="no cards given")
    labels = [card.token_label for card in cards]
    serials = [card.card_serial for card in cards]
    if len(set(labels)) != len(labels) or len(set(serials)) != len(serials):
        raise SoftHsmError(
            "duplicate token label or card serial", reason="duplicate token label or card serial"
        )
    for card in cards:
        if len(card.token_label.encode()) > 32:
            raise SoftHsmError(
                "token label longer than 32 bytes", reason=f"label {card.token_label!r} too long"
            )
    module_path = module or find_module()
    util = softhsm_util or shutil.which("softhsm2-util")
    if util is None:
        raise SoftHsmError("softhsm2-util not found", reason="softhsm2-util not found (Debian: softhsm2)")
    root = Path(directory).resolve()
    tokens_dir = root / "tokens"
    if tokens_dir.exists() and any(tokens_dir.iterdir()):
        raise SoftHsmError(f"{tokens_dir} already holds tokens", reason=f"{root} is already provisioned")
    tokens_dir.mkdir(parents=True, exist_ok=True)
    config = root / "softhsm2.conf"
    settings = [f"directories.tokendir = {tokens_dir}", "objectstore.backend = file", "log.level = ERROR"]
    config.write_text("\n".join([*settings, "slots.removable = false", ""]), encoding="utf-8")
    env = {**os.environ, "SOFTHSM2_CONF": str(config)}
    for card in cards:
        _run(
            [
                util,
                "--module",
                module_path,
                "--init-token",
                "--free",
                "--label",
                card.token_label,
                "--pin",
                card.pin,
                "--so-pin",
                card.so_pin,
            ],
            env,
            f"softhsm2-util --init-token {card.token_label}",
        )
    # The objects are created by a child process so this process never initialises the module
    # with this configuration (SoftHSM reads SOFTHSM2_CONF once per process).
    package_root = str(Path(__file__).resolve().parents[2])
    child_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))}
    spec = json.dumps({"module": module_path, "cards": [_card_spec(card) for card in cards]})
    _run([sys.executable, "-m", "twcert.card.softhsm"], child_env, "importing keys and certificates", spec)
    tokens = tuple(SoftHsmToken(c.card_serial, c.token_label, c.pin, c.so_pin) for c in cards)
    (root / _MANIFEST).write_text(
        json.dumps(
            {
                "module": module_path,
                "tokens": [
                    {"card_serial": t.card_serial, "label": t.label, "pin": t.pin, "so_pin": t.so_pin}
                    for t in tokens
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return SoftHsm(root, module_path, config, tokens)


def _import_objects(spec: Mapping[str, Any]) -> None:
    """Child side of :func:`provision`: create every object through PKCS#11."""
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.util.rsa import decode_rsa_private_key
    from pkcs11.util.x509 import decode_x509_certificate, decode_x509_public_key

    lib = pkcs11.lib(spec["module"])
    for card in spec["cards"]:
        token = lib.get_token(token_label=card["label"])
        with token.open(rw=True, user_pin=card["pin"]) as session:
            for pair in card["pairs"]:
                key_id = bytes.fromhex(pair["id"])
                signing = bool(pair["sign"])
                cert_der = base64.b64decode(pair["cert"])
                private = decode_rsa_private_key(base64.b64decode(pair["key"]))
                private.update(
                    {
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.ID: key_id,
                        Attribute.LABEL: pair["label"],
                        Attribute.SIGN: signing,
                        Attribute.DECRYPT: not signing,
                        Attribute.UNWRAP: not signing,
                    }
                )
                session.create_object(private)
                public = decode_x509_public_key(cert_der)
                public.update(
                    {
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,
                        Attribute.ID: key_id,
                        Attribute.LABEL: pair["label"],
                        Attribute.VERIFY: signing,
                        Attribute.ENCRYPT: not signing,
                        Attribute.WRAP: not signing,
                    }
                )
                session.create_object(public)
                certificate = decode_x509_certificate(cert_der)
                certificate.update(
                    {
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,
                        Attribute.ID: key_id,
                        Attribute.LABEL: pair["label"],
                    }
                )
                session.create_object(certificate)
            for ca in card["cas"]:
                certificate = decode_x509_certificate(base64.b64decode(ca["cert"]))
                certificate.update(
                    {
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,
                        Attribute.ID: bytes.fromhex(ca["id"]),
                        Attribute.LABEL: ca["label"],
                    }
                )
                session.create_object(certificate)
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.MODIFIABLE: False,
                    Attribute.APPLICATION: CARD_SERIAL_APPLICATION,
                    Attribute.LABEL: CARD_SERIAL_LABEL,
                    Attribute.VALUE: card["serial"].encode("ascii"),
                }
            )


if __name__ == "__main__":
    _import_objects(json.load(sys.stdin))
