"""Client side: the card reader, the card's PKCS#11 module, and a HiPKI-compatible local agent.

Importing this package needs no optional dependency. The modules that talk to hardware do:
:mod:`twcert.card.pcsc` needs pyscard (``pip install 'twcert[pcsc]'``), :mod:`twcert.card.pkcs11`
and :mod:`twcert.card.softhsm` need python-pkcs11 (``pip install 'twcert[pkcs11]'``).
"""

from __future__ import annotations

from .guard import GPKI_PIN_POLICY as GPKI_PIN_POLICY
from .guard import PinGuard as PinGuard
from .guard import PinPolicy as PinPolicy
from .guard import default_ledger_path as default_ledger_path

__all__ = ["GPKI_PIN_POLICY", "PinGuard", "PinPolicy", "default_ledger_path"]
