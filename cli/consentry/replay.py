"""``consentry audit replay``: decide every logged decision again and report the ones that differ.

The log is read from one of three places, all giving the same ``(index, leaf)`` stream:

- an export directory (what ``consentry ledger export`` writes): its checkpoint's size, then the
  entry bundles;
- the ledger's HTTP API (``--url``): ``/checkpoint`` for the size, ``/entries`` in ranges;
- the ``ledger.entries.v1`` topic from offset 0 (``--topic``), merged across partitions in index
  order (see :func:`consentry_ledger.rebuild.read_entries_topic`).

Each entry is decided again by :func:`consentry_rights.domain.replay.replay_decision` with the
registry as of its ``registry_version`` (fetched from the rights service's
``/registry/records?as_of_version=N`` when first needed; see :class:`RightsRegistry`) or with
one registry export used as is for every entry,
and with the policy of the rights settings (``CONSENTRY_RIGHTS_POLICY_VERSION``, ``_REGIME``,
``_REGIMES``). The replay does not verify the log's signatures or hashes: that is ``consentry
ledger verify``'s job, and the two are meant to be run together.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from consentry.client import ServiceFailed, ServiceUnavailable
from consentry_rights.domain import Policy, RegistryView
from consentry_rights.domain.importing import parse_registry_jsonl
from consentry_rights.domain.replay import NotReplayable, ReplayedEntry, replay_entry
from consentry_shared.contracts.v1 import Deal, Evidence, LedgerEntry, Reservation, Work
from consentry_shared.tlog import TILE_WIDTH, Checkpoint, TlogError, decode_entry_bundle, entries_path

__all__ = [
    "ExportSource",
    "FileRegistry",
    "LedgerApiSource",
    "ReplayInputError",
    "ReplayReport",
    "Replayer",
    "RightsRegistry",
    "render_text",
]

_HTTP_CHUNK = 10_000
_VIEWS_KEPT = 8


class ReplayInputError(Exception):
    """The log, the registry or an entry cannot be read (exit 2); the message says where."""


# --- the registry -----------------------------------------------------------------------------


def _view_of(lines: Iterable[bytes], version: int, where: str) -> RegistryView:
    parsed = parse_registry_jsonl(lines)
    if parsed.errors:
        first = parsed.errors[0]
        more = f" (and {len(parsed.errors) - 1} more)" if len(parsed.errors) > 1 else ""
        raise ReplayInputError(f"{where}: {first}{more}")
    reservations = [r for r in parsed.records if isinstance(r, Reservation)]
    deals = [r for r in parsed.records if isinstance(r, Deal)]
    works = [r for r in parsed.records if isinstance(r, Work)]
    return RegistryView(reservations=reservations, deals=deals, works=works, version=version)


class FileRegistry:
    """One registry export, used as is for every entry whatever its registry version."""

    def __init__(self, path: Path) -> None:
        try:
            lines = path.read_bytes().split(b"\n")
        except OSError as error:
            raise ReplayInputError(f"cannot read --registry {path}: {error}") from None
        self.path = path
        self.fetched: list[int] = []  # nothing is fetched: the file is the registry
        self._view = _view_of(lines, 0, str(path))
        self.description = (
            f"{path} ({len(self._view)} records), used as is for every entry: entries are NOT "
            "replayed against the registry as of their own registry version"
        )

    def view(self, version: int) -> RegistryView:
        return self._view


class RightsRegistry:
    """The registry as of each version, from the rights service.

    The last few views are kept: entries come in index order, so their versions mostly rise and
    each version is fetched once; a version needed again after several others is fetched again
    (``fetched`` lists every fetch, and the report shows it). Deals are listed only to their
    holder, their licensee and admins: use an admin token, or the platform's own token for a log
    of its own decisions.
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0), headers=headers)
        self._views: OrderedDict[int, RegistryView] = OrderedDict()
        self.fetched: list[int] = []
        self.description = f"{self.url}/registry/records, as of each entry's registry version"

    def close(self) -> None:
        self._http.close()

    def view(self, version: int) -> RegistryView:
        cached = self._views.get(version)
        if cached is not None:
            self._views.move_to_end(version)
            return cached
        view = RegistryView(version=0) if version == 0 else self._fetch(version)
        self._views[version] = view
        if len(self._views) > _VIEWS_KEPT:
            self._views.popitem(last=False)
        return view

    def _fetch(self, version: int) -> RegistryView:
        url = f"{self.url}/registry/records"
        try:
            response = self._http.get(url, params={"as_of_version": version})
        except httpx.ConnectError as error:
            raise ServiceUnavailable(f"cannot reach rights at {self.url}: {error}") from None
        except httpx.HTTPError as error:
            raise ServiceFailed(f"GET {url}?as_of_version={version}: {error}") from None
        if response.status_code != 200:
            raise ServiceFailed(
                f"GET {url}?as_of_version={version}: HTTP {response.status_code}: {response.text[:300]}"
            )
        stated = response.headers.get("X-Registry-Version")
        if stated is not None and stated != str(version):
            raise ServiceFailed(f"GET {url}?as_of_version={version} answered registry version {stated}")
        self.fetched.append(version)
        return _view_of(response.content.split(b"\n"), version, f"{url}?as_of_version={version}")


Registry = FileRegistry | RightsRegistry


# --- the log ------------------------------------------------------------------------------------


def _checkpoint_size(note: str, where: str) -> int:
    """The size a checkpoint note states (its signature is not checked here: see the module)."""
    text, _, _signatures = note.partition("\n\n")
    try:
        return Checkpoint.from_text(text + "\n").size
    except (TlogError, ValueError) as error:
        raise ReplayInputError(f"{where}: not a checkpoint: {error}") from None


@dataclass(frozen=True)
class ExportSource:
    """The entries of an export directory, from ``start`` to its checkpoint's size."""

    directory: Path

    @property
    def description(self) -> str:
        return f"export {self.directory}"

    def entries(self, start: int) -> Iterator[tuple[int, bytes]]:
        try:
            note = (self.directory / "checkpoint").read_text(encoding="utf-8")
        except OSError as error:
            raise ReplayInputError(f"{self.directory} has no readable checkpoint: {error}") from None
        size = _checkpoint_size(note, str(self.directory / "checkpoint"))
        for bundle in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
            width = min(TILE_WIDTH, size - bundle * TILE_WIDTH)
            leaves = self._bundle(bundle, width)
            first = bundle * TILE_WIDTH
            for offset, leaf in enumerate(leaves):
                if first + offset >= start:
                    yield first + offset, leaf

    def _bundle(self, bundle: int, width: int) -> list[bytes]:
        # A partial bundle may have been completed by a later export: then read the full one.
        for path in dict.fromkeys((entries_path(bundle, width), entries_path(bundle))):
            try:
                data = (self.directory / path).read_bytes()
            except FileNotFoundError:
                continue
            except OSError as error:
                raise ReplayInputError(f"cannot read {self.directory / path}: {error}") from None
            try:
                leaves = decode_entry_bundle(data)
            except TlogError as error:
                raise ReplayInputError(f"{self.directory / path}: {error}") from None
            if len(leaves) >= width:
                return leaves[:width]
        raise ReplayInputError(f"{self.directory / entries_path(bundle, width)} is missing")


class LedgerApiSource:
    """The entries the ledger serves over HTTP, from ``start`` to its latest checkpoint's size."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0), headers=headers)

    @property
    def description(self) -> str:
        return f"ledger {self.url}"

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        url = f"{self.url}{path}"
        try:
            response = self._http.get(url, params=params)
        except httpx.ConnectError as error:
            raise ServiceUnavailable(f"cannot reach the ledger at {self.url}: {error}") from None
        except httpx.HTTPError as error:
            raise ServiceFailed(f"GET {url}: {error}") from None
        if response.status_code != 200:
            raise ServiceFailed(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
        return response.content

    def entries(self, start: int) -> Iterator[tuple[int, bytes]]:
        size = _checkpoint_size(self._get("/checkpoint").decode("utf-8"), f"{self.url}/checkpoint")
        index = start
        while index < size:
            stop = min(size, index + _HTTP_CHUNK)
            body = self._get("/entries", {"start": index, "end": stop})
            leaves = body.split(b"\n")[:-1] if body else []
            if not leaves:
                raise ServiceFailed(f"the ledger returned no entries for [{index}, {stop})")
            for leaf in leaves:
                yield index, leaf
                index += 1


# --- replaying --------------------------------------------------------------------------------


def _evidence(items: Iterable[Evidence]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


@dataclass
class ReplayReport:
    """What a replay found: counts, every differing entry, every entry it could not replay."""

    source: str
    registry: str
    policy: str
    start: int
    replayed: int = 0
    agree: int = 0
    differ: list[ReplayedEntry] = field(default_factory=list)
    not_replayed: list[tuple[int, str]] = field(default_factory=list)
    registry_fetches: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "registry": self.registry,
            "policy": self.policy,
            "from": self.start,
            "entries": self.replayed + len(self.not_replayed),
            "replayed": self.replayed,
            "agree": self.agree,
            "differ": [_difference(found) for found in self.differ],
            "not_replayed": [{"index": index, "reason": reason} for index, reason in self.not_replayed],
            "registry_versions_fetched": self.registry_fetches,
        }


def _difference(found: ReplayedEntry) -> dict[str, Any]:
    entry, decision = found.entry, found.replayed
    return {
        "index": entry.index,
        "event_id": entry.event_id,
        "manifest_id": entry.manifest_id,
        "item_id": entry.item_id,
        "url": entry.url,
        "purpose": entry.purpose.value,
        "decided_at": entry.decided_at.isoformat(),
        "registry_version": entry.registry_version,
        "policy_version": entry.policy_version,
        "logged": {
            "verdict": entry.verdict.value,
            "reasons": entry.reasons,
            "evidence": _evidence(entry.evidence),
        },
        "replayed": {
            "verdict": decision.verdict.value,
            "reasons": list(decision.reasons),
            "evidence": _evidence(decision.evidence),
        },
    }


class Replayer:
    """Feeds entries, in index order, through the replay; collects a :class:`ReplayReport`."""

    def __init__(self, registry: Registry, policy: Policy, *, source: str, start: int) -> None:
        self._registry = registry
        self._policy = policy
        self.report = ReplayReport(source, registry.description, policy.version, start)

    def feed(self, index: int, leaf: bytes) -> None:
        """Replay the entry at ``index``.

        Raises:
            ReplayInputError: the leaf is not a ledger entry at ``index``.
        """
        try:
            entry = LedgerEntry.model_validate_json(leaf)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise ReplayInputError(f"entry {index}: field {where}: {first['msg']}") from None
        if entry.index != index:
            raise ReplayInputError(f"entry {index}: carries index {entry.index}")
        view = self._registry.view(entry.registry_version)
        try:
            found = replay_entry(entry, view, self._policy)
        except NotReplayable as reason:
            self.report.not_replayed.append((index, str(reason)))
            return
        self.report.replayed += 1
        if found.differs:
            self.report.differ.append(found)
        else:
            self.report.agree += 1

    def run(self, entries: Iterable[tuple[int, bytes]]) -> ReplayReport:
        for index, leaf in entries:
            self.feed(index, leaf)
        return self.finish()

    def finish(self) -> ReplayReport:
        """The report, with the registry versions fetched on the way."""
        self.report.registry_fetches = list(self._registry.fetched)
        return self.report


def render_text(report: ReplayReport, emit: Callable[[str], None]) -> None:
    """The report for people: one block per differing entry, then the summary."""
    for found in report.differ:
        entry, decision = found.entry, found.replayed
        emit(
            f"entry {entry.index}: logged {entry.verdict.value}, replayed {decision.verdict.value}  "
            f"(manifest {entry.manifest_id}, item {entry.item_id}, {entry.purpose.value}, "
            f"decided {entry.decided_at.isoformat()}, registry v{entry.registry_version}, "
            f"policy {entry.policy_version})"
        )
        emit(f"  logged reasons:    {', '.join(entry.reasons)}")
        emit(f"  replayed reasons:  {', '.join(decision.reasons)}")
        for label, items in (("logged", entry.evidence), ("replayed", decision.evidence)):
            for item in items:
                parts = [f"{k}={v}" for k, v in item.model_dump(mode="json", exclude_none=True).items()]
                emit(f"  {label} evidence:  {' '.join(parts)}")
    for index, reason in report.not_replayed[:20]:
        emit(f"entry {index}: not replayed: {reason}")
    if len(report.not_replayed) > 20:
        emit(f"... and {len(report.not_replayed) - 20} more entries not replayed")
    fetched = (
        f"; versions fetched: {', '.join(map(str, report.registry_fetches))}"
        if report.registry_fetches
        else ""
    )
    emit(f"registry: {report.registry}{fetched}")
    emit(f"policy: {report.policy}")
    emit(
        f"{report.source} from index {report.start}: {report.replayed} replayed, {report.agree} agree, "
        f"{len(report.differ)} differ, {len(report.not_replayed)} not replayed"
    )
