"""The HiPKI Local Server request side, for the local agent: codes, ``tbsPackage`` parsing, origins.

Pages post ``tbsPackage=<JSON>`` (form-encoded, ``+`` escaped as ``%2B``) to ``/sign``; the JSON
keys are those of docs/reference/hipki.md. :func:`parse_sign_request` turns any bytes into a
:class:`SignRequest` or an :class:`~twcert.card.errors.AgentRequestError` carrying the HiPKI
``ret_code`` to answer with — never another exception, whatever arrives.

The codes :mod:`twcert.hipki` does not name yet are here, with CHT's texts (``errorcode.js``).
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..hipki import MESSAGES, RET_NO_PIN
from .errors import AgentRequestError

__all__ = [
    "AGENT_MESSAGES",
    "MAX_REQUEST_BYTES",
    "RET_BAD_JSON",
    "RET_BAD_PARAMETER",
    "RET_BASE64_DECODE",
    "RET_INTERNAL",
    "RET_LIBRARY_LOAD",
    "RET_NO_TBS",
    "RET_SIGNATURE_TYPE",
    "RET_SIGN_FAILED",
    "RET_TOO_LARGE",
    "RET_TYPE_ERROR",
    "RET_UNSUPPORTED",
    "OriginPolicy",
    "SignRequest",
    "parse_sign_request",
    "parse_tbs_package",
]

RET_NO_TBS: Final = 0x76000003  #: 未輸入待簽訊息
RET_TYPE_ERROR: Final = 0x76000008  #: 型態錯誤
RET_TOO_LARGE: Final = 0x7600000A  #: 檔案過大
RET_BAD_JSON: Final = 0x7600000B  #: JSON格式錯誤
RET_BAD_PARAMETER: Final = 0x7600000C  #: 參數錯誤
RET_INTERNAL: Final = 0x7600000D  #: 執行檔錯誤或逾時
RET_UNSUPPORTED: Final = 0x7600000E  #: 不支援的方法
RET_LIBRARY_LOAD: Final = 0x76100001  #: 無法載入IC卡函式庫檔案
RET_SIGNATURE_TYPE: Final = 0x76300002  #: 簽章型別錯誤
RET_SIGN_FAILED: Final = 0x76300004  #: 簽章執行錯誤
RET_BASE64_DECODE: Final = 0x76600002  #: Base64解碼錯誤

#: CHT's texts for every code the agent may answer with.
AGENT_MESSAGES: Final[Mapping[int, str]] = {
    **MESSAGES,
    RET_NO_TBS: "未輸入待簽訊息",
    RET_TYPE_ERROR: "型態錯誤",
    RET_TOO_LARGE: "檔案過大",
    RET_BAD_JSON: "JSON格式錯誤",
    RET_BAD_PARAMETER: "參數錯誤",
    RET_INTERNAL: "執行檔錯誤或逾時",
    RET_UNSUPPORTED: "不支援的方法",
    RET_LIBRARY_LOAD: "無法載入IC卡函式庫檔案",
    RET_SIGNATURE_TYPE: "簽章型別錯誤",
    RET_SIGN_FAILED: "簽章執行錯誤",
    RET_BASE64_DECODE: "Base64解碼錯誤",
}

#: Largest request body read (a login challenge is well under 1 KB).
MAX_REQUEST_BYTES: Final = 256 * 1024

_HASHES: Final = {"SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512", "SHA1": "sha1"}
_DIGEST_SIZES: Final = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
_SIGNATURE_TYPES: Final = ("PKCS7", "PKCS1", "RAW")


@dataclass(frozen=True, slots=True)
class SignRequest:
    """A parsed ``MakeSignature`` tbsPackage."""

    tbs: bytes
    pin: str = field(repr=False)
    hash_algorithm: str = "sha256"
    signature_type: str = "PKCS7"
    with_card_serial: bool = False
    with_signing_time: bool = True
    nonce: bytes | None = None
    key_id: bytes | None = None
    slot_description: str | None = None
    check_validity: bool = False


def _reject(ret_code: int, detail: str) -> AgentRequestError:
    return AgentRequestError(detail, ret_code=ret_code)


def _text(package: Mapping[str, Any], key: str) -> str | None:
    value = package.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _reject(RET_TYPE_ERROR, f"{key} must be a string")
    return value


def _flag(package: Mapping[str, Any], key: str, default: bool) -> bool:
    value = package.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise _reject(RET_TYPE_ERROR, f"{key} must be true or false")


def _b64(text: str, key: str) -> bytes:
    try:
        # Pages send standard base64; tolerate URL-safe characters and missing padding.
        cleaned = text.strip().replace("-", "+").replace("_", "/")
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _reject(RET_BASE64_DECODE, f"{key} is not base64") from None


def parse_tbs_package(text: str, *, allow_sha1: bool = False) -> SignRequest:
    """Parse the tbsPackage JSON text of a ``MakeSignature`` call."""
    try:
        package = json.loads(text)
    except (ValueError, RecursionError):
        raise _reject(RET_BAD_JSON, "tbsPackage is not JSON") from None
    if not isinstance(package, dict):
        raise _reject(RET_BAD_JSON, "tbsPackage is not a JSON object")
    func = _text(package, "func") or "MakeSignature"
    if func != "MakeSignature":
        raise _reject(RET_UNSUPPORTED, f"func {func[:40]!r} is not supported by /sign")
    tbs_text = _text(package, "tbs")
    if not tbs_text:
        raise _reject(RET_NO_TBS, "tbs is missing")
    encoding = (_text(package, "tbsEncoding") or "NONE").upper()
    if encoding == "NONE":
        try:
            tbs = tbs_text.encode("utf-8")
        except UnicodeEncodeError:
            raise _reject(RET_BAD_PARAMETER, "tbs is not valid Unicode") from None
    elif encoding == "BASE64":
        tbs = _b64(tbs_text, "tbs")
        if not tbs:
            raise _reject(RET_NO_TBS, "tbs is empty")
    else:
        raise _reject(RET_BAD_PARAMETER, f"tbsEncoding {encoding[:20]!r} is not NONE or base64")
    hash_name = (_text(package, "hashAlgorithm") or "SHA256").upper().replace("-", "")
    if hash_name not in _HASHES or (hash_name == "SHA1" and not allow_sha1):
        raise _reject(RET_BAD_PARAMETER, f"hashAlgorithm {hash_name[:20]!r} is not accepted")
    hash_algorithm = _HASHES[hash_name]
    signature_type = (_text(package, "signatureType") or "PKCS7").upper()
    if signature_type not in _SIGNATURE_TYPES:
        raise _reject(RET_SIGNATURE_TYPE, f"signatureType {signature_type[:20]!r} is not supported")
    if signature_type == "RAW" and len(tbs) != _DIGEST_SIZES[hash_algorithm]:
        raise _reject(RET_BAD_PARAMETER, f"RAW needs a {hash_algorithm} digest as tbs")
    pin = package.get("pin")
    if pin is None or pin == "":
        raise _reject(RET_NO_PIN, "pin is missing")
    if not isinstance(pin, str):
        raise _reject(RET_TYPE_ERROR, "pin must be a string")
    nonce_text = _text(package, "nonce")
    key_id_text = _text(package, "keyidb64")
    slot = _text(package, "slotDescription")
    try:
        nonce = nonce_text.encode("utf-8") if nonce_text else None
    except UnicodeEncodeError:
        raise _reject(RET_BAD_PARAMETER, "nonce is not valid Unicode") from None
    return SignRequest(
        tbs=tbs,
        pin=pin,
        hash_algorithm=hash_algorithm,
        signature_type=signature_type,
        with_card_serial=_flag(package, "withCardSN", False),
        with_signing_time=_flag(package, "withSigningTime", True),
        nonce=nonce,
        key_id=_b64(key_id_text, "keyidb64") if key_id_text else None,
        slot_description=slot.strip() if slot else None,
        check_validity=_flag(package, "checkValidity", False),
    )


def parse_sign_request(
    body: bytes,
    content_type: str | None = None,
    *,
    allow_sha1: bool = False,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> SignRequest:
    """Parse a ``POST /sign`` body: the form field ``tbsPackage``, or the JSON itself."""
    if len(body) > max_bytes:
        raise _reject(RET_TOO_LARGE, f"request body over {max_bytes} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _reject(RET_BAD_PARAMETER, "request body is not UTF-8") from None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or (not media_type and text.lstrip().startswith("{")):
        return parse_tbs_package(text, allow_sha1=allow_sha1)
    try:
        fields = urllib.parse.parse_qs(text, keep_blank_values=True, max_num_fields=32)
    except ValueError:
        raise _reject(RET_BAD_PARAMETER, "malformed form body") from None
    packages = fields.get("tbsPackage", [])
    if len(packages) != 1:
        raise _reject(RET_BAD_PARAMETER, "exactly one tbsPackage field is required")
    return parse_tbs_package(packages[0], allow_sha1=allow_sha1)


@dataclass(frozen=True, slots=True)
class _OriginPattern:
    scheme: str
    host: str  # lower case; a leading "*." matches any subdomain
    port: int

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if (scheme, port) != (self.scheme, self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def _split_origin(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urllib.parse.urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else (443 if scheme == "https" else 80)


@dataclass(frozen=True)
class OriginPolicy:
    """The sites whose pages may use the agent (HiPKI's trusted-domain list).

    Entries are origins (``https://login.example.gov.tw``, ``http://127.0.0.1:5000``); a host
    may start with ``*.`` to allow its subdomains. ``null`` origins are never allowed.
    """

    patterns: tuple[_OriginPattern, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> OriginPolicy:
        patterns = []
        for entry in entries:
            wildcard = "://*." in entry
            split = _split_origin(entry.replace("://*.", "://", 1) if wildcard else entry)
            if split is None:
                raise ValueError(f"not an origin (scheme://host[:port]): {entry!r}")
            scheme, host, port = split
            patterns.append(_OriginPattern(scheme, ("*." + host) if wildcard else host, port))
        return cls(tuple(patterns))

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        split = _split_origin(origin)
        return split is not None and any(p.matches(*split) for p in self.patterns)

    def entries(self) -> list[str]:
        """The patterns as origins, for the popup page's own check."""
        default = {"http": 80, "https": 443}
        return [
            f"{p.scheme}://{p.host}" + ("" if default[p.scheme] == p.port else f":{p.port}")
            for p in self.patterns
        ]
