"""Where things live on a GPKI card, as seen through PKCS#11 (shared by the reader and SoftHSM set-up).

HiCOS cards (MOICA citizen, GCA agency) hold two key pairs with certificates: the signing pair
with ``CKA_ID``/label ``SIGN`` and the key-exchange (encryption) pair with ``KEYX``; the CA
certificates sit next to them labelled "CA Cert" / "ROOT CA Cert".

The card number (16 characters, e.g. ``TP00000000000001``) is the token's ``serialNumber`` on
HiCOS. SoftHSM assigns its own random token serial and offers no way to set it, so twcert's
SoftHSM cards carry the card number in a public data object (``CKO_DATA``, application
:data:`CARD_SERIAL_APPLICATION`, label :data:`CARD_SERIAL_LABEL`); readers prefer that object
when present and fall back to the token serial.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CARD_SERIAL_APPLICATION",
    "CARD_SERIAL_LABEL",
    "CA_LABEL",
    "KEYX_ID",
    "KEYX_LABEL",
    "ROOT_CA_LABEL",
    "SIGN_ID",
    "SIGN_LABEL",
]

SIGN_ID: Final = b"SIGN"  #: 5349474e
SIGN_LABEL: Final = "SIGN"
KEYX_ID: Final = b"KEYX"  #: 4b455958
KEYX_LABEL: Final = "KEYX"
CA_LABEL: Final = "CA Cert"
ROOT_CA_LABEL: Final = "ROOT CA Cert"
#: Label of the data object holding the card serial number on a card.
CARD_SERIAL_LABEL: Final = "CardSN"
#: Application name of that data object.
CARD_SERIAL_APPLICATION: Final = "twcert"
