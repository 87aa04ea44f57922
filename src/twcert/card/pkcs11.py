"""The card through its PKCS#11 module (python-pkcs11, extra ``pkcs11``): HiCOS on a desktop,
SoftHSM2 in tests and the demo.

* :func:`find_module` locates the module (explicit path, ``$TWCERT_PKCS11_MODULE``, or the
  HiCOS names of docs/reference/gpki.md for the platform).
* :class:`Pkcs11Module` lists tokens (slot, label, token serial, card number).
* :class:`Pkcs11Token` reads certificates without a PIN, finds the signing certificate
  (``CKA_ID``/label ``SIGN``, else by key usage), reports the tries left without a PIN, and
  logs in: the PIN is checked for shape first, a token flagged ``CKF_USER_PIN_LOCKED`` is
  refused, the final try (token flag ``CKF_USER_PIN_FINAL_TRY`` or the ledger) needs an
  explicit confirmation, and the answer (``CKR_PIN_INCORRECT`` ...) is recorded in the PIN
  ledger, so a token that reports no counter (SoftHSM, some HiCOS versions) is still refused
  a fourth wrong PIN before the PIN reaches it.
* :class:`SigningSession` signs: raw PKCS#1 v1.5, pre-hashed PKCS#1 v1.5 (HiPKI "RAW"), or CMS
  SignedData (:mod:`twcert.card.cms`) with the signature over the signed attributes made by
  the token (``CKM_SHA256_RSA_PKCS``).

Token use is serialised through the PIN guard's lock (threads, and processes sharing the
ledger): every read takes it briefly, and a login holds it until its session is closed, since
PKCS#11 login state is shared by every session of the process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from ..certificate import CAFamily, CertificateUsage, IssuerInfo, TaiwanCertificate, load_certificate
from ..errors import (
    CardAbsentError,
    CardOperationError,
    CertificateParseError,
    FinalPinTryError,
    PinLockedError,
    ReaderAbsentError,
)
from ..idnumber import mask_serial
from ..pin import (
    CKF_USER_PIN_COUNT_LOW,
    CKF_USER_PIN_FINAL_TRY,
    CKF_USER_PIN_LOCKED,
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_LOCKED,
    PinOutcome,
    PinStatus,
    from_pkcs11,
    unblock_url,
)
from .cms import DIGESTS, build_signed_data
from .errors import CardCommunicationError, Pkcs11ModuleError, SigningKeyNotFoundError
from .guard import GPKI_PIN_POLICY, PinGuard, PinPolicy
from .layout import CA_LABEL, CARD_SERIAL_APPLICATION, CARD_SERIAL_LABEL, ROOT_CA_LABEL, SIGN_ID, SIGN_LABEL

__all__ = [
    "HICOS_MODULES",
    "MODULE_ENV",
    "CardCertificate",
    "Pkcs11Module",
    "Pkcs11Token",
    "SigningSession",
    "TokenInfo",
    "check_token_flags",
    "find_module",
]

log = logging.getLogger("twcert.card")

#: Environment variable naming the PKCS#11 module when none is given explicitly.
MODULE_ENV: Final = "TWCERT_PKCS11_MODULE"

#: HiCOS PKCS#11 module locations by ``sys.platform`` prefix (docs/reference/gpki.md, cards and PINs).
#: The Linux names are by analogy with macOS and unconfirmed: pass ``--module`` there.
HICOS_MODULES: Final[Mapping[str, tuple[str, ...]]] = {
    "win32": (
        r"C:\Windows\System32\HiCOSPKCS11.dll",
        r"C:\Windows\System32\HiCOS_PKCS11.dll",
        "HiCOSPKCS11.dll",
    ),
    "darwin": ("/Library/FBTokenLib/libHicos_p11v1.dylib", "/usr/local/lib/libHicos_p11v1.dylib"),
    "linux": ("/usr/local/lib/libHicos_p11v1.so", "/usr/lib/libHicos_p11v1.so"),
}

# RFC 8017 §9.2 note 1: DER prefixes of DigestInfo for EMSA-PKCS1-v1_5 over a given digest.
_DIGEST_INFO: Final[Mapping[str, bytes]] = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_DIGEST_SIZES: Final = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
_SIGN_MECHANISMS: Final = {
    "sha1": Mechanism.SHA1_RSA_PKCS,
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}
_CKF_TOKEN_INITIALIZED: Final = 0x400


def find_module(path: str | os.PathLike[str] | None = None) -> str:
    """The PKCS#11 module to load: ``path``, else ``$TWCERT_PKCS11_MODULE``, else HiCOS.

    :raises Pkcs11ModuleError: nothing usable was found.
    """
    for explicit, origin in ((path, "--module"), (os.environ.get(MODULE_ENV), MODULE_ENV)):
        if explicit:
            text = os.fspath(explicit)
            if Path(text).is_file():
                return text
            raise Pkcs11ModuleError(f"{origin}: {text} does not exist")
    key = next((k for k in HICOS_MODULES if sys.platform.startswith(k)), "")
    for candidate in HICOS_MODULES.get(key, ()):
        if Path(candidate).is_file():
            return candidate
    raise Pkcs11ModuleError(f"no HiCOS PKCS#11 module found for {sys.platform}; set {MODULE_ENV} or --module")


@dataclass(frozen=True, slots=True)
class CardCertificate:
    """A certificate object on the token."""

    label: str
    key_id: bytes
    certificate: TaiwanCertificate

    @property
    def der(self) -> bytes:
        return self.certificate.der

    @property
    def is_signing(self) -> bool:
        return not self.certificate.is_ca and self.certificate.usage in (
            CertificateUsage.SIGNING,
            CertificateUsage.DUAL,
        )


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """``CK_SLOT_INFO`` + ``CK_TOKEN_INFO`` fields, and the card number."""

    slot_id: int
    slot_description: str
    slot_flags: int
    label: str
    token_serial: str
    #: The 16-character card number (a CardSN data object if present, else the token serial).
    card_serial: str
    model: str
    manufacturer_id: str
    flags: int

    def masked(self) -> dict[str, str]:
        """For logs: the card number masked."""
        return {"slot": self.slot_description, "card_serial": mask_serial(self.card_serial) or ""}


def check_token_flags(flags: int, family: CAFamily | None = None, *, confirm_final_try: bool = False) -> None:
    """Refuse a login the token's own PIN flags forbid (before any PIN is sent).

    :raises PinLockedError: ``CKF_USER_PIN_LOCKED``.
    :raises FinalPinTryError: ``CKF_USER_PIN_FINAL_TRY`` without ``confirm_final_try``.
    """
    if flags & CKF_USER_PIN_LOCKED:
        raise PinLockedError("token reports CKF_USER_PIN_LOCKED", unblock_url=unblock_url(family))
    if flags & CKF_USER_PIN_FINAL_TRY and not confirm_final_try:
        raise FinalPinTryError("token reports CKF_USER_PIN_FINAL_TRY; confirmation required")


class Pkcs11Module:
    """A loaded PKCS#11 module and the PIN guard its logins go through.

    :param guard: PIN ledger + attempt lock; default the user's ledger file.
    :param pin_policy: PIN shape accepted before a token is asked (GPKI: 6-8 letters/digits).
    :param issuers: extra CA key identifiers for classifying certificates (fixture PKIs).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        guard: PinGuard | None = None,
        pin_policy: PinPolicy = GPKI_PIN_POLICY,
        issuers: Mapping[bytes, IssuerInfo] | None = None,
    ) -> None:
        self.path = find_module(path)
        try:
            self._lib: Any = pkcs11.lib(self.path)
        except p11e.PKCS11Error as exc:
            raise Pkcs11ModuleError(f"cannot load {self.path}: {exc}") from None
        self.guard = guard if guard is not None else PinGuard.from_file()
        self.pin_policy = pin_policy
        self.issuers = issuers

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive use of the tokens (threads and processes sharing the ledger); held from
        login to session close, since PKCS#11 login state is per process and token."""
        return self.guard.exclusive()

    def slot_count(self) -> int:
        """Slots (readers) the module offers, with or without a token."""
        with self.exclusive():
            return len(self._slots(present=False))

    def _slots(self, present: bool) -> list[Any]:
        try:
            return list(self._lib.get_slots(token_present=present))
        except p11e.PKCS11Error as exc:
            raise CardCommunicationError(f"C_GetSlotList: {type(exc).__name__}") from None

    def tokens(self) -> list[Pkcs11Token]:
        """Initialised tokens (inserted cards), in slot order."""
        found: list[Pkcs11Token] = []
        with self.exclusive():
            for slot in self._slots(present=True):
                try:
                    token = slot.get_token()
                except (p11e.TokenNotPresent, p11e.TokenNotRecognised, p11e.DeviceRemoved):
                    continue
                except p11e.PKCS11Error as exc:
                    raise CardCommunicationError(f"C_GetTokenInfo: {type(exc).__name__}") from None
                if not int(token.flags) & _CKF_TOKEN_INITIALIZED:
                    continue
                found.append(Pkcs11Token(self, slot, token))
        return found

    def token(
        self,
        *,
        slot_description: str | None = None,
        label: str | None = None,
        card_serial: str | None = None,
    ) -> Pkcs11Token:
        """The one token matching every criterion given (the first token if none is given).

        :raises ReaderAbsentError: the module has no slot at all.
        :raises CardAbsentError: no matching token.
        """
        tokens = self.tokens()
        if not tokens and self.slot_count() == 0:
            raise ReaderAbsentError(f"{self.path} offers no slot")
        for token in tokens:
            info = token.info
            if slot_description is not None and info.slot_description != slot_description.strip():
                continue
            if label is not None and info.label != label:
                continue
            if card_serial is not None and info.card_serial != card_serial:
                continue
            return token
        raise CardAbsentError("no matching token is present")


class Pkcs11Token:
    """One token (card) of a :class:`Pkcs11Module`."""

    def __init__(self, module: Pkcs11Module, slot: Any, token: Any) -> None:
        self.module = module
        self._slot = slot
        self._token = token
        serial = bytes(token.serial).decode("ascii", "replace").strip()
        self.info = TokenInfo(
            slot_id=int(slot.slot_id),
            slot_description=str(slot.slot_description).strip(),
            slot_flags=int(slot.flags),
            label=str(token.label).strip(),
            token_serial=serial,
            card_serial=self._read_card_serial() or serial,
            model=str(token.model).strip(),
            manufacturer_id=str(token.manufacturer_id).strip(),
            flags=int(token.flags),
        )

    # -- reading without a PIN ---------------------------------------------------------------

    def _public_session(self) -> Any:
        try:
            return self._token.open()
        except (p11e.TokenNotPresent, p11e.DeviceRemoved, p11e.SlotIDInvalid):
            raise CardAbsentError("the card was removed") from None
        except p11e.PKCS11Error as exc:
            raise CardCommunicationError(f"C_OpenSession: {type(exc).__name__}") from None

    def _read_card_serial(self) -> str | None:
        with self.module.exclusive(), self._public_session() as session:
            for obj in session.get_objects(
                {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: CARD_SERIAL_LABEL}
            ):
                try:
                    if obj[Attribute.APPLICATION] != CARD_SERIAL_APPLICATION:
                        continue
                    value = bytes(obj[Attribute.VALUE]).decode("ascii").strip()
                except (p11e.PKCS11Error, UnicodeDecodeError):
                    continue
                if value:
                    return value
        return None

    def current_flags(self) -> int:
        """``CK_TOKEN_INFO.flags`` now (the PIN flags change after each login)."""
        try:
            with self.module.exclusive():
                return int(self._slot.get_token().flags)
        except (p11e.TokenNotPresent, p11e.DeviceRemoved, p11e.SlotIDInvalid):
            raise CardAbsentError("the card was removed") from None
        except p11e.PKCS11Error as exc:
            raise CardCommunicationError(f"C_GetTokenInfo: {type(exc).__name__}") from None

    def certificates(self) -> list[CardCertificate]:
        """Every X.509 certificate object, in token order (no PIN needed)."""
        found: list[CardCertificate] = []
        with self.module.exclusive(), self._public_session() as session:
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                try:
                    der = bytes(obj[Attribute.VALUE])
                    key_id = bytes(obj[Attribute.ID])
                    label = str(obj[Attribute.LABEL])
                except p11e.PKCS11Error:
                    continue
                try:
                    parsed = load_certificate(der, issuers=self.module.issuers)
                except CertificateParseError:
                    log.warning("skipping an unreadable certificate object on %s", self.info.masked())
                    continue
                found.append(CardCertificate(label, key_id, parsed))
        return found

    def signing_certificate(self) -> CardCertificate:
        """The card's signing certificate: ``CKA_ID``/label ``SIGN``, else the one signing
        end-entity certificate by key usage.

        :raises SigningKeyNotFoundError: none, or several equally likely.
        """
        certificates = self.certificates()
        for cert in certificates:
            if cert.key_id == SIGN_ID or cert.label == SIGN_LABEL:
                return cert
        candidates = [c for c in certificates if c.is_signing and c.label not in (CA_LABEL, ROOT_CA_LABEL)]
        if len(candidates) == 1:
            return candidates[0]
        raise SigningKeyNotFoundError(f"{len(candidates)} signing certificates and none labelled SIGN")

    def ca_certificates(self) -> list[CardCertificate]:
        return [c for c in self.certificates() if c.certificate.is_ca]

    def pin_status(self) -> PinStatus:
        """Tries left from the token's flags and the ledger (never sends a PIN)."""
        flags = self.current_flags()
        ledger = self.module.guard.status(self.info.card_serial)
        low = bool(flags & CKF_USER_PIN_COUNT_LOW)
        if flags & CKF_USER_PIN_LOCKED:
            return PinStatus(PinOutcome.LOCKED, 0, "pkcs11", low)
        if ledger.locked:
            return ledger
        if flags & CKF_USER_PIN_FINAL_TRY:
            return PinStatus(PinOutcome.UNKNOWN, 1, "pkcs11", low)
        return PinStatus(ledger.outcome, ledger.tries_left, ledger.source, low)

    # -- logging in ---------------------------------------------------------------------------

    def login(
        self, pin: str, *, confirm_final_try: bool = False, certificate: CardCertificate | None = None
    ) -> SigningSession:
        """Log in with ``pin`` (one ``C_Login``, never retried) and return a signing session.

        :param certificate: the certificate whose key signs (default :meth:`signing_certificate`).

        :raises PinMissingError, PinLengthError, PinFormatError: nothing was sent.
        :raises PinLockedError: locked per the token's flags or the ledger (nothing sent), or
            the token answered ``CKR_PIN_LOCKED``/the ledger reached the limit.
        :raises FinalPinTryError: one try left and ``confirm_final_try`` is false (nothing sent).
        :raises PinIncorrectError: wrong PIN; ``params["tries_left"]`` says how many remain.
        """
        encoded = self.module.pin_policy.encode(pin)
        signing = certificate if certificate is not None else self.signing_certificate()
        family = signing.certificate.family
        serial = self.info.card_serial
        guard = self.module.guard
        held = contextlib.ExitStack()
        held.enter_context(self.module.exclusive())
        try:
            flags = self.current_flags()
            if flags & CKF_USER_PIN_LOCKED:
                guard.ledger.record(serial, PinStatus(PinOutcome.LOCKED, 0, "pkcs11"))
            check_token_flags(flags, family, confirm_final_try=confirm_final_try)
            with guard.attempt(serial, family, confirm_final_try=confirm_final_try) as attempt:
                attempt.sending()
                session, return_code = self._c_login(encoded.decode("ascii"), attempt)
                try:
                    status = attempt.record(from_pkcs11(return_code, self.current_flags()))
                except BaseException:
                    _close_quietly(session)
                    raise
            if session is None or not status.accepted:
                status.raise_for_status(family)
                raise CardOperationError(f"login not accepted: {status.outcome.value}", ret_code="?")
            try:
                return SigningSession(self, session, signing, held)
            except BaseException:
                _close_quietly(session)
                raise
        except BaseException:
            held.close()
            raise

    def _c_login(self, pin: str, attempt: Any) -> tuple[Any, int | None]:
        """``C_OpenSession`` + ``C_Login``: the session (or None) and the CKR code (None = OK)."""
        try:
            return self._token.open(user_pin=pin), None
        except p11e.PinIncorrect:
            return None, CKR_PIN_INCORRECT
        except p11e.PinInvalid:
            return None, CKR_PIN_INVALID
        except p11e.PinLenRange:
            return None, CKR_PIN_LEN_RANGE
        except p11e.PinLocked:
            return None, CKR_PIN_LOCKED
        except (p11e.TokenNotPresent, p11e.DeviceRemoved, p11e.SlotIDInvalid):
            raise CardAbsentError("the card was removed during login") from None
        except (p11e.UserAlreadyLoggedIn, p11e.AnotherUserAlreadyLoggedIn):
            # Never taken as "accepted": the PIN was not checked at all.
            attempt.not_counted()
            raise CardOperationError(
                "a user is already logged in to this token", ret_code="CKR_USER_ALREADY_LOGGED_IN"
            ) from None
        except p11e.PinExpired:
            attempt.not_counted()
            raise CardOperationError(
                "the token says the PIN has expired", ret_code="CKR_PIN_EXPIRED"
            ) from None
        except p11e.PKCS11Error as exc:
            raise CardCommunicationError(f"C_Login: {type(exc).__name__}") from None


class SigningSession:
    """A logged-in session on a token; close it (or use ``with``) to log out."""

    def __init__(
        self, token: Pkcs11Token, session: Any, certificate: CardCertificate, held: contextlib.ExitStack
    ) -> None:
        self.token = token
        self._held = held
        self.certificate = certificate
        self._session = session
        self._closed = False
        keys = list(
            session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: certificate.key_id})
        )
        if len(keys) != 1:
            raise SigningKeyNotFoundError(f"{len(keys)} private keys with the signing certificate's CKA_ID")
        self._key = keys[0]

    @property
    def card_serial(self) -> str:
        return self.token.info.card_serial

    def _sign(self, data: bytes, mechanism: Any) -> bytes:
        if self._closed:
            raise CardOperationError("signing session is closed", ret_code="CKR_SESSION_CLOSED")
        try:
            return bytes(self._key.sign(data, mechanism=mechanism))
        except (p11e.TokenNotPresent, p11e.DeviceRemoved, p11e.SessionHandleInvalid, p11e.SessionClosed):
            raise CardAbsentError("the card was removed while signing") from None
        except p11e.PKCS11Error as exc:
            raise CardOperationError(f"C_Sign: {type(exc).__name__}", ret_code=type(exc).__name__) from None

    def sign_pkcs1(self, data: bytes, hash_algorithm: str = "sha256") -> bytes:
        """RSA PKCS#1 v1.5 over ``data`` hashed on the token (``CKM_SHA256_RSA_PKCS`` ...)."""
        return self._sign(data, _SIGN_MECHANISMS[_digest_name(hash_algorithm)])

    def sign_digest(self, digest: bytes, hash_algorithm: str = "sha256") -> bytes:
        """RSA PKCS#1 v1.5 over an already computed ``digest`` (``CKM_RSA_PKCS`` + DigestInfo)."""
        name = _digest_name(hash_algorithm)
        if len(digest) != _DIGEST_SIZES[name]:
            raise ValueError(f"a {name} digest has {_DIGEST_SIZES[name]} bytes, got {len(digest)}")
        return self._sign(_DIGEST_INFO[name] + digest, Mechanism.RSA_PKCS)

    def sign_cms(
        self,
        data: bytes,
        hash_algorithm: str = "sha256",
        *,
        signing_time: dt.datetime | None = None,
        with_signing_time: bool = True,
        with_card_serial: bool = False,
        nonce: bytes | None = None,
        include_ca_certificates: bool = False,
    ) -> bytes:
        """CMS SignedData with ``data`` attached; the token signs the signed attributes."""
        name = _digest_name(hash_algorithm)
        when = (signing_time or dt.datetime.now(dt.UTC)) if with_signing_time else None
        extra = [c.der for c in self.token.ca_certificates()] if include_ca_certificates else []
        return build_signed_data(
            data,
            self.certificate.der,
            lambda attributes: self.sign_pkcs1(attributes, name),
            digest=name,
            signing_time=when,
            card_serial=self.card_serial if with_card_serial else None,
            nonce=nonce,
            extra_certificates=extra,
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._session.close()  # C_Logout + C_CloseSession
        except p11e.PKCS11Error as exc:
            log.warning("closing the signing session failed: %s", type(exc).__name__)
        finally:
            self._held.close()

    def __enter__(self) -> SigningSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _close_quietly(session: Any) -> None:
    if session is None:
        return
    try:
        session.close()
    except p11e.PKCS11Error as exc:
        log.warning("closing a session failed: %s", type(exc).__name__)


def _digest_name(hash_algorithm: str) -> str:
    name = hash_algorithm.lower().replace("-", "")
    if name.upper() in DIGESTS:
        name = DIGESTS[name.upper()]
    if name not in _SIGN_MECHANISMS:
        raise ValueError(f"unsupported hash algorithm {hash_algorithm}")
    return name
