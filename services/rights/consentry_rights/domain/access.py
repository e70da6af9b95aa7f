"""Who may read and change which registry records: the rules, as pure functions.

Roles are those of :mod:`consentry_shared.auth` (``admin``, ``holder``, ``platform``), passed in as
plain strings so the domain stays free of the web framework.

- **Changing**: an admin may import anything. A holder may import only records whose ``holder``
  is its own name, and (checked by the store, in the import's transaction) only replace records
  it already owns. Anyone else changes nothing.
- **Signal files**: an origin is registered to one holder by an admin. That holder may import the
  origin's signal files (the records are theirs); an admin may too, for the registered holder, or
  for a holder it names when the origin is not registered yet.
- **Reading**: reservations and works are public to every authenticated caller: they are what a
  platform must respect. A deal is private to its parties: its holder and its licensee (and
  admins). A record a caller may not see is answered as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consentry_shared.contracts.v1 import Deal

from .importing import ImportLineError, RegistryRecord

ADMIN = "admin"
HOLDER = "holder"
PLATFORM = "platform"


class AccessDenied(Exception):
    """The caller may not do this (an HTTP 403); the message says why."""


@dataclass(frozen=True, slots=True)
class DealFilter:
    """Which deals a caller's listing keeps: those with this licensee, or this holder (``None``:
    no restriction)."""

    licensee: str | None = None
    holder: str | None = None


def foreign_records(
    records: Sequence[RegistryRecord], lines: Sequence[int], role: str, name: str
) -> list[ImportLineError]:
    """The records of an import the caller may not write, each named by line (empty: all fine)."""
    if role == ADMIN:
        return []
    if role != HOLDER:
        return [ImportLineError(lines[0] if lines else 0, None, f"a {role} token cannot change the registry")]
    return [
        ImportLineError(
            line, "holder", f"{record.kind} {record.id!r} belongs to {record.holder!r}, not {name!r}"
        )
        for record, line in zip(records, lines, strict=True)
        if record.holder != name
    ]


def import_owner(role: str, name: str) -> str | None:
    """The owner the store must check replaced records against (``None``: any, for admins)."""
    return None if role == ADMIN else name


def deal_filter(role: str, name: str) -> DealFilter:
    if role == ADMIN:
        return DealFilter()
    if role == PLATFORM:
        return DealFilter(licensee=name)
    return DealFilter(holder=name)


def may_see(record: RegistryRecord, role: str, name: str) -> bool:
    if not isinstance(record, Deal) or role == ADMIN:
        return True
    return record.licensee == name if role == PLATFORM else record.holder == name


def signal_file_holder(role: str, name: str, registered: str | None, requested: str | None) -> str:
    """The holder the records of an origin's signal file are made for.

    Raises :class:`AccessDenied` when the caller may not import for that origin, and
    :class:`ValueError` when an admin's request leaves the holder unclear.
    """
    if role == ADMIN:
        if registered is not None:
            if requested not in (None, registered):
                raise ValueError(f"the origin is registered to {registered!r}, not {requested!r}")
            return registered
        if requested is None:
            raise ValueError("the origin is not registered to a holder: name one with holder=")
        return requested
    if role != HOLDER:
        raise AccessDenied(f"a {role} token cannot change the registry")
    if registered != name:
        whose = f"registered to {registered!r}" if registered else "not registered to any holder"
        raise AccessDenied(f"the origin is {whose}; an admin registers origins (POST /registry/origins)")
    if requested not in (None, name):
        raise AccessDenied(f"a holder imports for itself, not for {requested!r}")
    return name
