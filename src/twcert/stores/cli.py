"""``twcert unbind``: remove an account's first-use bindings (a re-bind), audited.

An account holds one binding by default (:class:`~twcert.login.LoginPolicy`); when its holder
gets a new card, an administrator unbinds the old one and the next login with the new card
binds it as a first use.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from ..audit import mask_account
from ..binding import unbind_account
from .sql import DEFAULT_SQLITE_URL, SqlStores

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``unbind`` command to the ``twcert`` parser."""
    unbind = sub.add_parser(
        "unbind",
        help="remove an account's certificate bindings so its next login binds a new card",
        description="Removes every first-use binding of ACCOUNT from the SQL binding store and "
        "writes a twcert.unbind audit event (account masked). Exit status 1 if it had none.",
    )
    unbind.add_argument("account", help="the account (as stored in the personnel directory)")
    unbind.add_argument("--database", default=DEFAULT_SQLITE_URL, help="SQLAlchemy URL of the stores")
    unbind.add_argument("--schema", help="PostgreSQL schema of the stores")
    unbind.add_argument("--actor", help="who asks (for the audit event; default: the OS user)")
    unbind.set_defaults(handler=_cmd_unbind)


def _cmd_unbind(args: argparse.Namespace) -> int:
    stores = SqlStores(args.database, schema=args.schema, create=False)
    try:
        actor = args.actor or getpass.getuser()
        removed = unbind_account(stores.bindings, args.account, actor=actor)
    finally:
        stores.dispose()
    shown = mask_account(args.account)
    if not removed:
        print(f"twcert unbind: {shown} has no binding", file=sys.stderr)
        return 1
    for binding in removed:
        print(
            f"unbound {shown}: bound {binding.bound_at.isoformat()}, certificate {binding.certificate_sha256}"
        )
    return 0
