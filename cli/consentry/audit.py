"""``consentry audit replay`` and ``consentry ledger rebuild``: the two replays of the log.

Kept apart from :mod:`consentry.cli` (which registers them) so their heavy imports (the rights
engine, the ledger store, aiokafka) load only when one of them runs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from consentry.replay import Registry, Replayer, ReplayReport
    from consentry_ledger.rebuild import RebuildResult, TopicRecord
    from consentry_rights.domain import Policy

EXIT_DIFFER = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 4
EXIT_NOT_REPLAYED = 5

audit_app = typer.Typer(help="What an auditor runs against the log.", no_args_is_help=True)

_out = Console(soft_wrap=True, highlight=False, emoji=False)
_err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


def _fail(code: int, message: str) -> NoReturn:
    _err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@audit_app.command("replay")
def audit_replay(
    directory: Annotated[
        Path | None,
        typer.Argument(exists=True, file_okay=False, help="An export made by `consentry ledger export`"),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Read the log from the ledger's HTTP API")] = None,
    topic: Annotated[
        bool,
        typer.Option(
            "--topic",
            help="Read the log from ledger.entries.v1 from offset 0 ($KAFKA_BOOTSTRAP_SERVERS, "
            "$CONSENTRY_TOPIC_PREFIX)",
        ),
    ] = False,
    start: Annotated[int, typer.Option("--from", min=0, help="First entry index to replay")] = 0,
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            help="A registry export (JSONL, as `consentry rights import` reads), used as is for EVERY "
            "entry whatever its registry version",
        ),
    ] = None,
    rights_url: Annotated[
        str | None,
        typer.Option(
            "--rights-url",
            help="The rights service: each entry is replayed against the registry as of its own "
            "version (GET /registry/records?as_of_version=N, each version fetched once); deals are "
            "listed only to admins, their holder and their licensee",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CONSENTRY_TOKEN",
            show_default=False,
            help="Bearer token for --url/--rights-url",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Decide every logged decision again and report each entry whose verdict differs.

    Each entry is re-decided at its own decision time, with the registry as of its registry
    version (--rights-url) or one registry file (--registry), and the policy of the rights
    settings ($CONSENTRY_RIGHTS_POLICY_VERSION, _REGIME, _REGIMES; an entry of another policy
    version is not replayed). Web signals are replayed from the readings recorded in the entry's
    evidence (the bodies are not in the log). For each difference: both verdicts, both reason
    lists and both evidence lists. The log is read, not verified: run `consentry ledger verify`.

    Exit codes:
      0  every replayed entry agrees with the log
      1  at least one entry's replayed verdict differs
      2  the export, the registry file or an entry cannot be read, or bad arguments
      4  the ledger, the rights service or Kafka cannot be reached or failed
      5  none differ, but some entries could not be replayed (the report says why)
    """
    from aiokafka.errors import KafkaError

    from consentry.client import ConsentryError, resolve_token
    from consentry.replay import (
        ExportSource,
        FileRegistry,
        LedgerApiSource,
        ReplayInputError,
        RightsRegistry,
        render_text,
    )
    from consentry_rights.settings import RightsSettings

    if sum((directory is not None, url is not None, topic)) != 1:
        _fail(EXIT_BAD_INPUT, "give one of: an export DIR, --url, --topic")
    if (registry is None) == (rights_url is None):
        _fail(EXIT_BAD_INPUT, "give one of --registry FILE or --rights-url URL")
    policy = RightsSettings().policy()
    token = resolve_token(token)  # else the credentials `consentry up` wrote, as every command
    chosen: Registry | None = None
    try:
        chosen = (
            FileRegistry(registry) if registry is not None else RightsRegistry(str(rights_url), token=token)
        )
        if directory is not None:
            report = _replayer(chosen, policy, f"export {directory}", start).run(
                ExportSource(directory).entries(start)
            )
        elif url is not None:
            ledger = LedgerApiSource(url, token=token)
            try:
                report = _replayer(chosen, policy, ledger.description, start).run(ledger.entries(start))
            finally:
                ledger.close()
        else:
            report = asyncio.run(_replay_topic(chosen, policy, start))
    except ReplayInputError as error:
        _fail(EXIT_BAD_INPUT, str(error))
    except (ConsentryError, KafkaError, OSError, TimeoutError) as error:
        _fail(EXIT_UNAVAILABLE, str(error))
    finally:
        if isinstance(chosen, RightsRegistry):
            chosen.close()

    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        render_text(report, _out.print)
    if report.differ:
        raise typer.Exit(EXIT_DIFFER)
    if report.not_replayed:
        raise typer.Exit(EXIT_NOT_REPLAYED)


def _replayer(registry: Registry, policy: Policy, source: str, start: int) -> Replayer:
    from consentry.replay import Replayer

    return Replayer(registry, policy, source=source, start=start)


async def _replay_topic(registry: Registry, policy: Policy, start: int) -> ReplayReport:
    from consentry.replay import ReplayInputError
    from consentry_ledger.rebuild import RebuildInputError, RebuildRefused, read_entries_topic
    from consentry_shared import topics
    from consentry_shared.settings import ServiceSettings

    settings = ServiceSettings()
    name = settings.topic(topics.LEDGER_ENTRIES)
    replayer = _replayer(registry, policy, f"topic {name}", start)
    expected = 0
    try:
        async for record in read_entries_topic(
            settings.kafka_bootstrap_servers, name, client_options=settings.kafka_security().for_aiokafka()
        ):
            if record.index < expected:
                continue  # the outbox published it again after a restart
            if record.index > expected:
                raise ReplayInputError(f"entry {expected} is missing from {name} (next: {record.index})")
            expected += 1
            if record.index >= start:
                replayer.feed(record.index, record.leaf)
    except (RebuildInputError, RebuildRefused) as error:
        raise ReplayInputError(str(error)) from None
    return replayer.finish()


def ledger_rebuild(
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            help="The EMPTY database to rebuild into (postgresql://… or sqlite:///…); one that an "
            "interrupted rebuild left is completed",
        ),
    ],
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="The latest signed checkpoint you trust: a checkpoint file, or an export DIR (whose "
            "tiles then also name the first altered entry on the topic)",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Take the reference checkpoint from a live ledger instead (its tiles then name the "
            "first altered entry on the topic)",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="The ledger's signing key (default: $CONSENTRY_DATA_DIR/ledger.key): it signs the "
            "checkpoints of the intermediate sizes the rebuild writes",
        ),
    ] = None,
    vkey: Annotated[
        str | None,
        typer.Option(help="Verifier key for the reference checkpoint, or a file (default: the key's own)"),
    ] = None,
) -> None:
    """Rebuild the ledger's database from ledger.entries.v1, read from offset 0.

    Reads the topic twice: first to check every entry (contiguous indexes, schema, canonical
    form, source offsets) and that the whole rebuilds the reference checkpoint's size and root,
    writing nothing; then to store the entries, keeping each index, with the consumed offsets
    and the reference checkpoint as the latest. Kafka from $KAFKA_BOOTSTRAP_SERVERS and
    $CONSENTRY_TOPIC_PREFIX.

    Exit codes:
      0  rebuilt: same size and root as the reference checkpoint
      1  refused: the topic does not rebuild the signed log; the message names the first bad entry
      2  the checkpoint, the key or the target database is unusable (it holds another log)
      4  Kafka or the database cannot be reached
    """
    from aiokafka.errors import KafkaError
    from sqlalchemy.exc import DBAPIError

    from consentry_ledger.adapters.sql import SqlLedgerStore
    from consentry_ledger.rebuild import (
        RebuildInputError,
        RebuildRefused,
        read_entries_topic,
        rebuild_from_topic,
    )
    from consentry_ledger.settings import LedgerSettings
    from consentry_shared import topics
    from consentry_shared.tlog import Checkpoint, Signer, TileHashReader, TlogError

    if (checkpoint is None) == (url is None):
        _fail(EXIT_BAD_INPUT, "give one of --checkpoint FILE|DIR or --url LEDGER_URL")
    settings = LedgerSettings()
    key_path = key or settings.data_dir / "ledger.key"
    try:
        signer = Signer.from_skey(key_path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, TlogError) as error:
        _fail(EXIT_BAD_INPUT, f"cannot read the ledger key {key_path}: {error}")
    verifier_key = None
    if vkey is not None:
        path = Path(vkey)
        verifier_key = path.read_text(encoding="utf-8").strip() if path.is_file() else vkey.strip()
    note, tiles = _reference(checkpoint, url)
    try:
        size = Checkpoint.from_text(note.partition("\n\n")[0] + "\n").size
    except (TlogError, ValueError) as error:
        _fail(EXIT_BAD_INPUT, f"the reference checkpoint cannot be read: {error}")
    reference_hash: Callable[[int], bytes] | None = None
    if tiles is not None:
        reference_hash = functools.partial(TileHashReader(tiles, size).hash_at, 0)
    elif url is not None:
        reference_hash = RemoteLeafHashes(url, size)

    name = settings.topic(topics.LEDGER_ENTRIES)
    options = settings.kafka_security().for_aiokafka()

    def records() -> AsyncIterator[TopicRecord]:
        return read_entries_topic(settings.kafka_bootstrap_servers, name, client_options=options)

    async def run() -> RebuildResult:
        store = SqlLedgerStore.from_url(database_url)
        try:
            return await rebuild_from_topic(
                records,
                store,
                reference_note=note,
                signer=signer,
                vkey=verifier_key,
                reference_hash=reference_hash,
            )
        finally:
            await store.close()

    try:
        result = asyncio.run(run())
    except RebuildRefused as refused:
        _err.print(f"[bold red]rebuild REFUSED:[/] {refused}")
        raise typer.Exit(EXIT_DIFFER) from None
    except (RebuildInputError, TlogError) as error:
        _fail(EXIT_BAD_INPUT, str(error))
    except (KafkaError, DBAPIError, OSError, TimeoutError) as error:
        _fail(EXIT_UNAVAILABLE, f"{type(error).__name__}: {error}")
    _out.print(
        f"rebuilt {result.size} entries from {name} into {_redacted(database_url)}: "
        f"origin {result.origin}, root {result.root.hex()} (the reference checkpoint's); "
        f"{result.records_read} records read per pass, {result.repeats_skipped} repeats skipped, "
        f"{result.chunks} transactions"
    )


class RemoteLeafHashes:
    """The leaf hash at an index, from a live ledger's level-0 tiles (one GET per 256 entries):
    with it the rebuild names the first entry of the topic that differs from the log."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url.rstrip("/")
        self._size = size
        self._tile: tuple[int, bytes] = (-1, b"")

    def __call__(self, index: int) -> bytes:
        import httpx

        from consentry_ledger.rebuild import RebuildInputError
        from consentry_shared.tlog import TILE_WIDTH, tile_path

        number, offset = divmod(index, TILE_WIDTH)
        if self._tile[0] != number:
            width = min(TILE_WIDTH, self._size - number * TILE_WIDTH)
            path = tile_path(0, number, width)
            try:
                response = httpx.get(f"{self._url}/{path}", timeout=30.0)
            except httpx.HTTPError as error:
                raise RebuildInputError(f"cannot read {self._url}/{path}: {error}") from None
            if response.status_code != 200 or len(response.content) != width * 32:
                raise RebuildInputError(
                    f"{self._url}/{path}: HTTP {response.status_code}, {len(response.content)} bytes"
                )
            self._tile = (number, response.content)
        return self._tile[1][offset * 32 : offset * 32 + 32]


def _reference(checkpoint: Path | None, url: str | None) -> tuple[str, Path | None]:
    """The reference checkpoint note, and the export directory whose tiles it heads (if any)."""
    if checkpoint is not None:
        directory = checkpoint if checkpoint.is_dir() else None
        path = checkpoint / "checkpoint" if directory is not None else checkpoint
        try:
            return path.read_text(encoding="utf-8"), directory
        except OSError as error:
            _fail(EXIT_BAD_INPUT, f"cannot read the checkpoint {path}: {error}")
    import httpx

    assert url is not None
    try:
        response = httpx.get(f"{url.rstrip('/')}/checkpoint", timeout=30.0)
    except httpx.HTTPError as error:
        _fail(EXIT_UNAVAILABLE, f"cannot reach the ledger at {url}: {error}")
    if response.status_code != 200:
        _fail(EXIT_UNAVAILABLE, f"GET {url}/checkpoint: HTTP {response.status_code}")
    return response.text, None


def _redacted(database_url: str) -> str:
    """The URL without its password, for the summary line."""
    scheme, sep, rest = database_url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return database_url
    return f"{scheme}://{credentials.partition(':')[0]}@{host}"
