"""In-memory fakes of the storage ports, for service tests on FastStream's test broker."""

from __future__ import annotations

from collections.abc import Sequence

from consentry_rights.adapters.store import RegistryStore
from consentry_rights.domain.importing import RegistryRecord


class FakeRegistryStore(RegistryStore):
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], RegistryRecord] = {}
        self._version = 0

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

    async def close(self) -> None:
        return None
