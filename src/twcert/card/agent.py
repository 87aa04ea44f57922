"""A local signing agent that speaks the HiPKI Local Server subset government login pages use.

``GET /pkcs11info[?withcert=true]``, ``POST /sign`` (form field ``tbsPackage``) and the
``/popupForm`` postMessage exchange, with HiPKI's response fields and ``ret_code``/``last_error``
values (docs/reference/hipki.md), backed by a PKCS#11 module: SoftHSM2 in tests and the
demo, HiCOS on a desktop. It behaves like a card behind the real component: a wrong PIN answers
``0x76100006`` with ``last_error`` ``0x80000002``, then ``0x80000001``; the third locks
(``0xA4``), and every later attempt answers ``0xA4`` without touching the token until an
unblock is recorded in the PIN ledger.

Security: it listens on 127.0.0.1 only and answers only requests whose ``Host`` is that
address or ``localhost`` (no DNS rebinding). A browser request must come from an allowed
origin (HiPKI's trusted-domain list) — or from this agent's own popup, which names the page
that opened it and is itself checked — else it gets ``0x7600000F`` (禁止存取的網域). Requests
without any browser header (``Origin``, ``Referer``, ``Sec-Fetch-*``) are local programs and
are served. Token access is serialised, PINs are never logged, card numbers are masked.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType
from typing import Any, Final, Protocol, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from .. import __version__
from ..certificate import CertificateUsage, TaiwanCertificate
from ..errors import (
    CardAbsentError,
    CardError,
    CardOperationError,
    FinalPinTryError,
    PinIncorrectError,
    PinLengthError,
    PinLockedError,
    PinMissingError,
    ReaderAbsentError,
)
from ..hipki import (
    RET_CARD_LOGIN_FAILED,
    RET_CERT_EXPIRED,
    RET_CERT_NOT_FOUND,
    RET_CERT_NOT_YET_VALID,
    RET_DOMAIN_FORBIDDEN,
    RET_NO_CARD,
    RET_NO_PIN,
    RET_NO_READER,
    RET_OK,
    HipkiSignResponse,
)
from ..idnumber import mask_serial
from ..oids import HOLDER_RANK
from ..pin import CKR_PIN_INCORRECT, CKR_PIN_INVALID, CKR_PIN_LEN_RANGE, CKR_PIN_LOCKED
from .errors import (
    AgentRequestError,
    AgentStartError,
    PinFormatError,
    Pkcs11ModuleError,
    SigningKeyNotFoundError,
)
from .guard import GPKI_PIN_POLICY, PinPolicy
from .protocol import (
    AGENT_MESSAGES,
    MAX_REQUEST_BYTES,
    RET_BAD_PARAMETER,
    RET_INTERNAL,
    RET_LIBRARY_LOAD,
    RET_SIGN_FAILED,
    RET_TOO_LARGE,
    RET_UNSUPPORTED,
    OriginPolicy,
    SignRequest,
    parse_sign_request,
)

__all__ = [
    "AGENT_VERSION",
    "DEFAULT_PORT",
    "OPENER_HEADER",
    "AgentConfig",
    "CertificateLike",
    "LocalAgent",
    "SigningSessionLike",
    "SigningToken",
    "TokenInfoLike",
    "TokenSource",
]

log = logging.getLogger("twcert.card.agent")

#: The port HiPKI Local Server listens on (pages hard-code it).
DEFAULT_PORT: Final = 61161
AGENT_VERSION: Final = f"twcert-agent/{__version__}"
#: Header the popup page sets on its own requests: the origin of the page that opened it.
OPENER_HEADER: Final = "X-HiPKI-Opener-Origin"
#: HiPKI's vendor last_error values for a wrong PIN with tries left (CHT errorcode.js).
_LAST_ERROR_TRIES: Final = {2: 0x80000002, 1: 0x80000001}
_LOOPBACK: Final = "127.0.0.1"


# ------------------------------------------------------------------------------- pluggable parts


class SigningSessionLike(Protocol):
    """What the agent needs of a logged-in session (:class:`~twcert.card.pkcs11.SigningSession`)."""

    def sign_pkcs1(self, data: bytes, hash_algorithm: str = ...) -> bytes: ...

    def sign_digest(self, digest: bytes, hash_algorithm: str = ...) -> bytes: ...

    def sign_cms(
        self,
        data: bytes,
        hash_algorithm: str = ...,
        *,
        signing_time: dt.datetime | None = ...,
        with_signing_time: bool = ...,
        with_card_serial: bool = ...,
        nonce: bytes | None = ...,
        include_ca_certificates: bool = ...,
    ) -> bytes: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


class CertificateLike(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    @property
    def certificate(self) -> TaiwanCertificate: ...


class TokenInfoLike(Protocol):
    @property
    def slot_id(self) -> int: ...

    @property
    def slot_description(self) -> str: ...

    @property
    def slot_flags(self) -> int: ...

    @property
    def label(self) -> str: ...

    @property
    def card_serial(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def manufacturer_id(self) -> str: ...

    @property
    def flags(self) -> int: ...


class SigningToken(Protocol):
    """A card as the agent uses it (:class:`~twcert.card.pkcs11.Pkcs11Token`)."""

    @property
    def info(self) -> TokenInfoLike: ...

    def certificates(self) -> Sequence[CertificateLike]: ...

    def signing_certificate(self) -> CertificateLike: ...

    def login(
        self, pin: str, *, confirm_final_try: bool = ..., certificate: Any = ...
    ) -> SigningSessionLike: ...


class TokenSource(Protocol):
    """Where the cards come from (:class:`~twcert.card.pkcs11.Pkcs11Module`)."""

    def tokens(self) -> Sequence[SigningToken]: ...

    def slot_count(self) -> int: ...


# ------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class AgentConfig:
    """How the agent runs.

    :param port: 61161 like HiPKI; 0 picks a free port (tests).
    :param origins: the pages allowed to use the agent.
    :param allow_sha1: accept ``hashAlgorithm: SHA1`` (off: SHA-1 signatures are not accepted
        by twcert's verifier either).
    :param pin_policy: PIN lengths reported in ``/pkcs11info`` (``ulMinPinLen``/``ulMaxPinLen``).
    """

    port: int = DEFAULT_PORT
    origins: OriginPolicy = field(default_factory=OriginPolicy)
    allow_sha1: bool = False
    max_request_bytes: int = MAX_REQUEST_BYTES
    pin_policy: PinPolicy = GPKI_PIN_POLICY
    #: Seconds a client may take to send its request.
    request_timeout: float = 15.0
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    #: Serve only the card with this number, as if it were the only one inserted (a test
    #: set-up with several SoftHSM cards; pages that send no slotDescription take the first).
    card_serial: str | None = None

    @classmethod
    def with_origins(cls, origins: Iterable[str], **options: Any) -> AgentConfig:
        return cls(origins=OriginPolicy.of(origins), **options)


# -------------------------------------------------------------------------------- formatting

_DN_NAMES: Final = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.EMAIL_ADDRESS: "E",
}


def _dn(name: x509.Name) -> str:
    """HiPKI's DN strings: attributes in certificate order, ``C=TW,CN=…,serialNumber=…``."""
    parts = []
    for rdn in name.rdns:
        for attribute in rdn:
            key = _DN_NAMES.get(attribute.oid, attribute.oid.dotted_string)
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
            parts.append(f"{key}={value}")
    return ",".join(parts)


def _hipki_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")


def _email(cert: x509.Certificate) -> str:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        emails = names.get_values_for_type(x509.RFC822Name)
        if emails:
            return str(emails[0])
    except x509.ExtensionNotFound:
        pass
    values = cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
    return str(values[0].value) if values else ""


def _certificate_entry(obj: CertificateLike, with_der: bool) -> dict[str, Any]:
    """One ``certs[]`` element of a pkcs11info answer."""
    parsed = obj.certificate
    cert = parsed.certificate
    subject_cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    entry: dict[str, Any] = {
        "label": obj.label,
        "id": obj.key_id.hex(),
        "sn": f"{parsed.serial_number:X}",
        "subjectDN": _dn(cert.subject),
        "issuerDN": _dn(cert.issuer),
        "subjectCN": str(subject_cn[0].value) if subject_cn else "",
        "usage": parsed.usage.value,
        "notBefore": _hipki_time(parsed.not_before),
        "notAfter": _hipki_time(parsed.not_after),
        "notBeforeT": int(parsed.not_before.timestamp()),
        "notAfterT": int(parsed.not_after.timestamp()),
        "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
        "email": _email(cert),
        "subjectID": parsed.id_tail or "",
        "holderRank": ",".join(parsed.directory_attributes.get(HOLDER_RANK, ())),
    }
    if with_der:
        entry["certb64"] = base64.b64encode(parsed.der).decode()
    return entry


# ------------------------------------------------------------------------------------- agent


class LocalAgent:
    """The agent: HiPKI's behaviour over a :class:`TokenSource`, and an HTTP server for it.

    Use :meth:`start`/:meth:`stop` (or ``with``) to serve in a background thread, or
    :meth:`serve_forever` in the foreground. :meth:`sign` and :meth:`pkcs11info` are the same
    operations without HTTP.
    """

    def __init__(self, tokens: TokenSource, config: AgentConfig | None = None) -> None:
        self.tokens = tokens
        self.config = config or AgentConfig()
        # One token operation at a time, as one card reader does (the PIN guard also locks
        # across processes).
        self._token_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_module(
        cls,
        module: str | None = None,
        *,
        ledger: str | None = None,
        config: AgentConfig | None = None,
        issuers: Any = None,
    ) -> LocalAgent:
        """An agent over a PKCS#11 module (``None``: HiCOS/``$TWCERT_PKCS11_MODULE``) with the
        PIN ledger file ``ledger`` (default under ``$XDG_STATE_HOME/twcert``)."""
        from .guard import PinGuard
        from .pkcs11 import Pkcs11Module

        config = config or AgentConfig()
        guard = PinGuard.from_file(ledger)
        return cls(Pkcs11Module(module, guard=guard, pin_policy=config.pin_policy, issuers=issuers), config)

    # -- operations -----------------------------------------------------------------------

    def _tokens(self) -> list[SigningToken]:
        tokens = list(self.tokens.tokens())
        if self.config.card_serial is not None:
            tokens = [t for t in tokens if t.info.card_serial == self.config.card_serial]
        return tokens

    def _select(self, slot_description: str | None) -> SigningToken:
        tokens = self._tokens()
        if not tokens:
            if self.tokens.slot_count() == 0:
                raise ReaderAbsentError("no slot")
            raise CardAbsentError("no token present")
        if slot_description is None:
            return tokens[0]
        for token in tokens:
            if token.info.slot_description == slot_description:
                return token
        raise CardAbsentError("no token in the requested slot")

    def pkcs11info(self, with_cert: bool = False) -> dict[str, Any]:
        """The ``/pkcs11info`` answer."""
        answer: dict[str, Any] = {
            "func": "pkcs11info",
            "version": AGENT_VERSION,
            "serverVersion": AGENT_VERSION,
        }
        try:
            with self._token_lock:
                tokens = self._tokens()
                slots = [self._slot_entry(token, with_cert) for token in tokens]
                if not tokens:
                    code = RET_NO_READER if self.tokens.slot_count() == 0 else RET_NO_CARD
                    return {**answer, **self._error(code), "slots": []}
        except CardError as exc:
            return {**answer, **self._error(self._code_for(exc)), "slots": []}
        return {
            **answer,
            "ret_code": RET_OK,
            "last_error": 0,
            "message": AGENT_MESSAGES[RET_OK],
            "slots": slots,
        }

    def _slot_entry(self, token: SigningToken, with_cert: bool) -> dict[str, Any]:
        info = token.info
        entry: dict[str, Any] = {
            "serialNumber": info.card_serial,
            "label": info.label,
            "model": info.model,
            "manufacturerID": info.manufacturer_id,
            "flags": info.flags,
            "ulMinPinLen": self.config.pin_policy.min_length,
            "ulMaxPinLen": self.config.pin_policy.max_length,
        }
        if with_cert:
            entry["certs"] = [_certificate_entry(c, True) for c in token.certificates()]
        return {
            "slotDescription": info.slot_description,
            "slotID": info.slot_id,
            "flags": info.slot_flags,
            "token": entry,
        }

    def sign(self, request: SignRequest) -> HipkiSignResponse:
        """``MakeSignature``: one login (never retried) and one signature."""
        try:
            with self._token_lock:
                token = self._select(request.slot_description)
                serial = token.info.card_serial
                signer = self._signer(token, request.key_id)
                if request.check_validity:
                    now = self.config.clock()
                    if now < signer.certificate.not_before:
                        return self._response(RET_CERT_NOT_YET_VALID)
                    if now > signer.certificate.not_after:
                        return self._response(RET_CERT_EXPIRED)
                # The page's user typed this PIN after seeing how many tries were left: that is
                # the confirmation the final try needs (HiPKI has no other).
                with token.login(request.pin, confirm_final_try=True, certificate=signer) as session:
                    signature = self._make(session, request)
        except PinIncorrectError as exc:
            tries = exc.params.get("tries_left")
            last = (
                _LAST_ERROR_TRIES.get(tries, CKR_PIN_INCORRECT)
                if isinstance(tries, int)
                else CKR_PIN_INCORRECT
            )
            return self._response(RET_CARD_LOGIN_FAILED, last)
        except CardError as exc:
            code = self._code_for(exc)
            return self._response(code, self._last_error_for(exc))
        log.info("signed for card %s (%s)", mask_serial(serial), request.signature_type)
        certb64 = base64.b64encode(signer.certificate.der).decode()
        return HipkiSignResponse(RET_OK, 0, signature, certb64, serial, message=AGENT_MESSAGES[RET_OK])

    @staticmethod
    def _signer(token: SigningToken, key_id: bytes | None) -> CertificateLike:
        if key_id is None:
            return token.signing_certificate()
        for cert in token.certificates():
            usable = cert.certificate.usage in (CertificateUsage.SIGNING, CertificateUsage.DUAL)
            if cert.key_id == key_id and usable and not cert.certificate.is_ca:
                return cert
        raise SigningKeyNotFoundError("no signing certificate with the requested keyidb64")

    def _make(self, session: SigningSessionLike, request: SignRequest) -> bytes:
        if request.signature_type == "PKCS1":
            return session.sign_pkcs1(request.tbs, request.hash_algorithm)
        if request.signature_type == "RAW":
            return session.sign_digest(request.tbs, request.hash_algorithm)
        return session.sign_cms(
            request.tbs,
            request.hash_algorithm,
            signing_time=self.config.clock(),
            with_signing_time=request.with_signing_time,
            with_card_serial=request.with_card_serial,
            nonce=request.nonce,
        )

    @staticmethod
    def _code_for(exc: CardError) -> int:
        if isinstance(exc, AgentRequestError):
            return exc.ret_code
        if isinstance(exc, PinMissingError):
            return RET_NO_PIN
        if isinstance(exc, PinLockedError | PinLengthError | PinFormatError | FinalPinTryError):
            return RET_CARD_LOGIN_FAILED
        if isinstance(exc, ReaderAbsentError):
            return RET_NO_READER
        if isinstance(exc, CardAbsentError):
            return RET_NO_CARD
        if isinstance(exc, SigningKeyNotFoundError):
            return RET_CERT_NOT_FOUND
        if isinstance(exc, Pkcs11ModuleError):
            return RET_LIBRARY_LOAD
        if isinstance(exc, CardOperationError):
            return RET_SIGN_FAILED
        return RET_SIGN_FAILED

    @staticmethod
    def _last_error_for(exc: CardError) -> int:
        if isinstance(exc, PinLockedError):
            return CKR_PIN_LOCKED
        if isinstance(exc, PinLengthError):
            return CKR_PIN_LEN_RANGE
        if isinstance(exc, PinFormatError):
            return CKR_PIN_INVALID
        if isinstance(exc, FinalPinTryError):
            return _LAST_ERROR_TRIES[1]
        return 0

    @staticmethod
    def _error(code: int, last_error: int = 0) -> dict[str, Any]:
        return {"ret_code": code, "last_error": last_error, "message": AGENT_MESSAGES.get(code, "")}

    @staticmethod
    def _response(code: int, last_error: int = 0) -> HipkiSignResponse:
        return HipkiSignResponse(code, last_error, None, None, None, message=AGENT_MESSAGES.get(code, ""))

    # -- serving --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the agent is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{_LOOPBACK}:{self.port}"

    def _bind(self) -> _Server:
        try:
            server = _Server((_LOOPBACK, self.config.port), _Handler)
        except OSError as exc:
            raise AgentStartError(
                f"cannot listen on {_LOOPBACK}:{self.config.port}: {exc.strerror or exc}",
                reason=f"{_LOOPBACK}:{self.config.port}: {exc.strerror or exc}",
            ) from None
        server.agent = self
        self._server = server
        return server

    def start(self) -> LocalAgent:
        """Listen on 127.0.0.1 (port 0: a free one) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the agent is already started")
        server = self._bind()
        # A short poll interval keeps stop() quick (shutdown waits for the loop to notice).
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.1,), name="twcert-agent", daemon=True
        )
        self._thread.start()
        log.info("agent listening on %s", self.url)
        return self

    def serve_forever(self, ready: Callable[[LocalAgent], None] | None = None) -> None:
        """Serve in this thread until :meth:`request_stop` (e.g. from a signal handler)."""
        server = self._bind()
        if ready is not None:
            ready(self)
        try:
            server.serve_forever(0.1)
        finally:
            server.server_close()
            self._server = None

    def request_stop(self) -> None:
        """Ask :meth:`serve_forever` to return; safe to call from a signal handler.

        ``shutdown()`` waits for the serving loop, which may be the caller's own thread, so it
        runs in a helper thread instead of raising into whatever the loop was doing.
        """
        server = self._server
        if server is not None:
            threading.Thread(target=server.shutdown, name="twcert-agent-stop", daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> LocalAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Stopping must not wait for a stalled client (up to request_timeout) to give up.
    block_on_close = False
    allow_reuse_address = True
    agent: LocalAgent

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Never a traceback on stderr (it could quote request data); the type is enough.
        kind = sys.exc_info()[0]
        log.warning("agent request failed: %s", kind.__name__ if kind is not None else "?")


def _popup_page(origins: Sequence[str]) -> bytes:
    template = resources.files("twcert.card").joinpath("popup.html").read_text(encoding="utf-8")
    # JSON inside <script>: escape "<" so no origin string can close the element.
    allowed = json.dumps(list(origins)).replace("<", "\\u003c")
    return (
        template.replace("__ALLOWED_ORIGINS__", allowed).replace("__OPENER_HEADER__", OPENER_HEADER).encode()
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "twcert-agent"
    sys_version = ""
    error_content_type = "application/json; charset=utf-8"
    # Answer even a garbled request line with headers (HTTP/0.9 replies have none).
    default_request_version = "HTTP/1.0"

    def setup(self) -> None:
        # Per-connection socket timeout: a client that stalls mid-request frees its thread.
        self.request.settimeout(self.server.agent.config.request_timeout)
        super().setup()

    @property
    def agent(self) -> LocalAgent:
        return self.server.agent

    # -- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP (bad request line, unsupported method ...): a HiPKI-style JSON error."""
        ret_code = (
            RET_UNSUPPORTED
            if code in (HTTPStatus.NOT_IMPLEMENTED, HTTPStatus.METHOD_NOT_ALLOWED)
            else (
                RET_TOO_LARGE
                if code in (HTTPStatus.REQUEST_URI_TOO_LONG, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                else RET_BAD_PARAMETER
            )
        )
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client is gone
            self._json(code, {"func": "error", **LocalAgent._error(ret_code)})

    def _json(self, status: int, body: Mapping[str, Any], cors_origin: str | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self._common_headers(cors_origin)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _common_headers(self, cors_origin: str | None) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        if cors_origin is not None:
            self.send_header("Access-Control-Allow-Origin", cors_origin)
            self.send_header("Vary", "Origin")

    def _own_origins(self) -> set[str]:
        port = self.server.server_address[1]
        return {f"http://{_LOOPBACK}:{port}", f"http://localhost:{port}"}

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        host = (self.headers.get("Host") or "").strip().lower()
        return host in (f"{_LOOPBACK}:{port}", f"localhost:{port}")

    def _caller(self) -> tuple[bool, str | None]:
        """(is a browser request, the calling page's origin or None)."""
        origin = self.headers.get("Origin")
        if origin:
            return True, origin.strip()
        referer = self.headers.get("Referer")
        if referer:
            parts = urllib.parse.urlsplit(referer)
            return True, f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
        site = self.headers.get("Sec-Fetch-Site")
        if site:
            own = next(iter(sorted(self._own_origins())))
            return True, own if site == "same-origin" else None
        return False, None

    def _authorise(self) -> tuple[bool, str | None]:
        """Whether to serve this request, and the origin to name in CORS headers."""
        if not self._host_ok():
            return False, None
        browser, origin = self._caller()
        if not browser:
            return True, None
        if origin in self._own_origins():
            opener = self.headers.get(OPENER_HEADER)
            return self.agent.config.origins.allows(opener), None
        if self.agent.config.origins.allows(origin):
            return True, origin
        return False, None

    def _forbidden(self, func: str) -> None:
        log.info("refused a request from a page not in the allowed origins")
        self._json(HTTPStatus.FORBIDDEN, {"func": func, **LocalAgent._error(RET_DOMAIN_FORBIDDEN)})

    def _guarded(self, handler: Callable[[], None], func: str) -> None:
        try:
            handler()
        except Exception as exc:  # a bug must not take the agent down or leak a traceback
            log.error("agent error in %s: %s", self.path.split("?", 1)[0], type(exc).__name__)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._json(
                    HTTPStatus.INTERNAL_SERVER_ERROR, {"func": func, **LocalAgent._error(RET_INTERNAL)}
                )

    # -- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/popupForm":
            self._guarded(self._popup, "popupForm")
        elif path == "/pkcs11info":
            self._guarded(lambda: self._pkcs11info(query), "pkcs11info")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"func": "error", **LocalAgent._error(RET_UNSUPPORTED)})

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/sign":
            self._guarded(self._sign, "sign")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"func": "error", **LocalAgent._error(RET_UNSUPPORTED)})

    def do_OPTIONS(self) -> None:
        """CORS preflight, including Chrome's Private Network Access, for allowed origins only."""
        allowed, origin = self._authorise()
        if not allowed or origin is None:
            self._forbidden("preflight")
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Max-Age", "600")
        if self.headers.get("Access-Control-Request-Private-Network") == "true":
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self._common_headers(origin)
        self.end_headers()

    def _popup(self) -> None:
        if not self._host_ok():
            self._forbidden("popupForm")
            return
        page = _popup_page(self.agent.config.origins.entries())
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        # Only this page's inline script, only requests back to this agent, never framed.
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        )
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self._common_headers(None)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(page)

    def _pkcs11info(self, query: str) -> None:
        allowed, origin = self._authorise()
        if not allowed:
            self._forbidden("pkcs11info")
            return
        params = urllib.parse.parse_qs(query, max_num_fields=8) if query else {}
        with_cert = params.get("withcert", ["false"])[-1].lower() == "true"
        self._json(HTTPStatus.OK, self.agent.pkcs11info(with_cert), origin)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise AgentRequestError("chunked bodies are not accepted", ret_code=RET_BAD_PARAMETER)
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise AgentRequestError("Content-Length is required", ret_code=RET_BAD_PARAMETER)
        try:
            length = int(length_text)
        except ValueError:
            raise AgentRequestError("Content-Length is not a number", ret_code=RET_BAD_PARAMETER) from None
        if length < 0:
            raise AgentRequestError("negative Content-Length", ret_code=RET_BAD_PARAMETER)
        if length > self.agent.config.max_request_bytes:
            # Not read: answer now and drop the connection.
            raise AgentRequestError("request body too large", ret_code=RET_TOO_LARGE)
        body = self.rfile.read(length)
        if len(body) != length:
            raise AgentRequestError("request body shorter than Content-Length", ret_code=RET_BAD_PARAMETER)
        return body

    def _sign(self) -> None:
        allowed, origin = self._authorise()
        if not allowed:
            self.close_connection = True
            self._forbidden("sign")
            return
        try:
            body = self._read_body()
            request = parse_sign_request(
                body,
                self.headers.get("Content-Type"),
                allow_sha1=self.agent.config.allow_sha1,
                max_bytes=self.agent.config.max_request_bytes,
            )
        except AgentRequestError as exc:
            self.close_connection = True
            response = HipkiSignResponse(
                exc.ret_code, 0, None, None, None, message=AGENT_MESSAGES.get(exc.ret_code)
            )
            self._json(HTTPStatus.OK, {**response.to_dict(), "version": AGENT_VERSION}, origin)
            return
        result = self.agent.sign(request)
        self._json(HTTPStatus.OK, {**result.to_dict(), "version": AGENT_VERSION}, origin)
