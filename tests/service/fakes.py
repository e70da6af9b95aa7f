"""In-memory fakes of the storage ports, for service tests on FastStream's test broker."""

from __future__ import annotations

from collections.abc import Sequence

from consentry_rights.adapters.store import DecidedItem, RegistryStore
from consentry_rights.domain.importing import RegistryRecord
from consentry_rights.domain.revocation import Selectors


class FakeRegistryStore(RegistryStore):
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], RegistryRecord] = {}
        self._version = 0
        self._decided: dict[str, DecidedItem] = {}

    async def initialise(self) -> None:
        return None

    async def version(self) -> int:
        return self._version

    async def snapshot(self) -> tuple[int, list[RegistryRecord]]:
        return self._version, list(self._records.values())

    async def upsert(self, records: Sequence[RegistryRecord]) -> int:
        for record in records:
            self._records[(record.kind, record.id)] = record
        self._version += 1
        return self._version

    async def remember_decisions(self, decided: Sequence[DecidedItem]) -> None:
        for d in decided:
            self._decided[d.item.event_id] = d

    async def decided_items(self, selectors: Selectors) -> list[DecidedItem]:
        def hit(d: DecidedItem) -> bool:
            url = str(d.item.url)
            return (
                d.item.sha256 in selectors.sha256
                or any(d.host == x or d.host.endswith("." + x) for x in selectors.domains)
                or any(url.startswith(p) for p in selectors.url_prefixes)
            )

        return [d for d in self._decided.values() if hit(d)]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
