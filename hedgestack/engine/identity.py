"""Venue identity: a data directory belongs to one venue and account.

The event log records which exchange account it is the ledger of (``meta.venue_identity``: kind, account, key
fingerprint; never a key). Trade and order ids are only unique within one account — the simulator's restart from
nothing, testnet versus live — so a terminal refuses to start on a data directory of another venue or account: a
fill of the new exchange would be taken for a duplicate of an old one, old VPs would say OK, stale TP/SL ids
would be listed as open. The refusal is one line naming the data directory and both identities.

Two deliberate ways out:

- ``rebind``: the same kind of venue with a new key of the same account (a key rotation keeps the ledger). Binance
  names no account id on fapi, so there the account is the key's fingerprint and a rotation needs this flag; a
  simulator's id is its account, so a simulator ledger is never rebound to another simulator;
- ``new-ledger``: the old log (and its published Parquet) is moved aside into ``old-ledgers/<time>/``, never
  deleted, and a new ledger starts.

A log written before identities existed is bound to the venue it is first opened with.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from typing import TYPE_CHECKING

from hedgestack.domain.errors import LedgerOfAnotherVenue
from hedgestack.venue.port import VenueIdentity

if TYPE_CHECKING:
    from pathlib import Path

    from hedgestack.store.eventlog import EventLog

log = logging.getLogger("hedgestack.engine")

META_KEY = "venue_identity"
MODES = ("refuse", "rebind", "new-ledger")


def stored_identity(store: EventLog) -> VenueIdentity | None:
    text = store.get_meta(META_KEY)
    if text is None:
        return None
    data = json.loads(text)
    return VenueIdentity(str(data["kind"]), str(data["account"]), str(data.get("key", "")))


def _store(store: EventLog, identity: VenueIdentity) -> None:
    store.set_meta(META_KEY, json.dumps({"kind": identity.kind, "account": identity.account, "key": identity.key}))


def same_account(a: VenueIdentity, b: VenueIdentity) -> bool:
    return a.kind == b.kind and a.account == b.account


def bind(store: EventLog, identity: VenueIdentity, *, data_dir: Path, mode: str = "refuse") -> None:
    """Check (or bind) the log's identity against the venue's; raise LedgerOfAnotherVenue when they differ and
    ``mode`` is ``refuse`` (``new-ledger`` is handled before the log is opened: :func:`move_aside`)."""
    stored = stored_identity(store)
    if stored is None:
        if store.count():
            log.info("binding the existing ledger in %s to %s", data_dir, identity)
        _store(store, identity)
        return
    if same_account(stored, identity):
        if stored.key != identity.key:
            _store(store, identity)  # the same account with another key
        return
    if mode == "rebind" and stored.kind == identity.kind and identity.kind != "sim":
        log.warning("rebinding the ledger in %s from %s to %s (a new key of the same account)", data_dir, stored,
                    identity)
        _store(store, identity)
        return
    raise LedgerOfAnotherVenue(
        f"{data_dir} holds the ledger of {stored}, not of the venue connected now ({identity}); use another "
        "--data-dir, or --rebind (a new key of the same account) or --new-ledger (the old log is moved aside)")


def move_aside(data_dir: Path, db_file: Path, published: Path) -> Path:
    """Move the log and its published Parquet into ``data_dir/old-ledgers/<time>/``; returns that folder."""
    target = data_dir / "old-ledgers" / time.strftime("%Y%m%dT%H%M%S")
    target.mkdir(parents=True, exist_ok=False)
    for path in (db_file, db_file.with_name(db_file.name + ".wal"), published):
        if path.exists():
            shutil.move(str(path), str(target / path.name))
    log.warning("the old ledger of %s was moved to %s", data_dir, target)
    return target


__all__ = ["META_KEY", "MODES", "LedgerOfAnotherVenue", "bind", "move_aside", "same_account", "stored_identity"]
