"""Client side: card readers (PC/SC), the card's PKCS#11 module, and a HiPKI-compatible local agent.

Importing this package needs no optional dependency. The modules that talk to hardware do, and
are imported explicitly: :mod:`twcert.card.pcsc` needs pyscard (``pip install 'twcert[pcsc]'``),
:mod:`twcert.card.pkcs11` needs python-pkcs11 (``pip install 'twcert[pkcs11]'``), as does the
agent once it is given a PKCS#11 module.

=========================  ==================================================================
:mod:`.guard`              PIN shape check + ledger + attempt lock shared by every card source
:mod:`.pcsc`               readers, insert/removal, ISO 7816 VERIFY
:mod:`.pkcs11`             tokens, certificates, login, PKCS#1 / CMS signing
:mod:`.cms`                CMS SignedData around a card-made signature
:mod:`.protocol`           HiPKI request parsing, extra codes, allowed origins
:mod:`.agent`              the local signing agent (``/pkcs11info``, ``/sign``, ``/popupForm``)
:mod:`.softhsm`            SoftHSM2 tokens laid out like GPKI cards (tests, demo)
:mod:`.layout`             CKA_ID/labels of the card layout
:mod:`.errors`             catalogued errors of the card side
=========================  ==================================================================
"""

from __future__ import annotations

from .agent import DEFAULT_PORT as DEFAULT_PORT
from .agent import AgentConfig as AgentConfig
from .agent import LocalAgent as LocalAgent
from .cms import build_signed_data as build_signed_data
from .errors import AgentRequestError as AgentRequestError
from .errors import AgentStartError as AgentStartError
from .errors import CardCommunicationError as CardCommunicationError
from .errors import CardExtraMissingError as CardExtraMissingError
from .errors import PcscUnavailableError as PcscUnavailableError
from .errors import PinFormatError as PinFormatError
from .errors import Pkcs11ModuleError as Pkcs11ModuleError
from .errors import SigningKeyNotFoundError as SigningKeyNotFoundError
from .errors import SoftHsmError as SoftHsmError
from .guard import GPKI_PIN_POLICY as GPKI_PIN_POLICY
from .guard import PinAttempt as PinAttempt
from .guard import PinGuard as PinGuard
from .guard import PinPolicy as PinPolicy
from .guard import default_ledger_path as default_ledger_path
from .layout import KEYX_ID as KEYX_ID
from .layout import SIGN_ID as SIGN_ID
from .protocol import OriginPolicy as OriginPolicy
from .protocol import SignRequest as SignRequest
from .protocol import parse_sign_request as parse_sign_request
from .softhsm import SoftCard as SoftCard
from .softhsm import SoftHsm as SoftHsm
from .softhsm import provision as provision_softhsm

__all__ = [
    "DEFAULT_PORT",
    "GPKI_PIN_POLICY",
    "KEYX_ID",
    "SIGN_ID",
    "AgentConfig",
    "AgentRequestError",
    "AgentStartError",
    "CardCommunicationError",
    "CardExtraMissingError",
    "LocalAgent",
    "OriginPolicy",
    "PcscUnavailableError",
    "PinAttempt",
    "PinFormatError",
    "PinGuard",
    "PinPolicy",
    "Pkcs11ModuleError",
    "SignRequest",
    "SigningKeyNotFoundError",
    "SoftCard",
    "SoftHsm",
    "SoftHsmError",
    "build_signed_data",
    "default_ledger_path",
    "parse_sign_request",
    "provision_softhsm",
]
