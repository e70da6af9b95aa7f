"""The ``consentry`` command line.

Exit codes (all commands):
  0  success
  1  verification failed (``ledger verify``): the message names the first bad entry
  2  bad input or usage: the message names the file, line and field
  3  ``submit --fail-on-violation``: at least one item is a violation
  4  a service could not be reached or failed
  5  ``audit replay``: nothing differs, but some entries could not be replayed
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import ProgressColumn, Task
from rich.text import Text

from consentry.audit import audit_app, ledger_rebuild
from consentry.client import (
    ConsentryClient,
    ConsentryError,
    RejectedInput,
    ServiceFailed,
    ServiceUnavailable,
    Urls,
)
from consentry.supervisor import Supervisor

if TYPE_CHECKING:
    from consentry.check import CheckResult

EXIT_VERIFY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_VIOLATION = 3
EXIT_UNAVAILABLE = 4

SAMPLES = Path(__file__).parent / "samples"

app = typer.Typer(
    help="Consentry: training-data consent, checked item by item and recorded in a signed ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rights_app = typer.Typer(help="The registry of creators' rights.", no_args_is_help=True)
ledger_app = typer.Typer(help="The signed transparency log of decisions.", no_args_is_help=True)
token_app = typer.Typer(
    help="Bearer tokens for platforms, rights holders and administrators.", no_args_is_help=True
)
app.add_typer(rights_app, name="rights")
app.add_typer(ledger_app, name="ledger")
app.add_typer(token_app, name="token")

SAMPLE_PLATFORM = "acme-ai"
"""The platform the bundled sample manifest declares; `consentry up` issues it a token."""

# No emoji codes: every manifest id holds ":id:" (or ":sha256:"), which rich would draw as a picture.
out = Console(soft_wrap=True, emoji=False)  # a long path or id must stay on one line for scripts and grep
err = Console(stderr=True, soft_wrap=True, emoji=False)


def _fail(code: int, message: str, errors: list[dict[str, Any]] | None = None, source: str = "") -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    for e in errors or []:
        where = f"{source}:{e.get('line')}" if source and e.get("line") else f"line {e.get('line')}"
        field = f" field {e['field']}:" if e.get("field") else ""
        err.print(f"  {where}:{field} {e.get('message')}", highlight=False)
    raise typer.Exit(code)


def _client_errors(error: ConsentryError, source: str = "") -> None:
    if isinstance(error, RejectedInput):
        _fail(EXIT_BAD_INPUT, str(error), error.errors, source)
    if isinstance(error, (ServiceUnavailable, ServiceFailed)):
        _fail(EXIT_UNAVAILABLE, str(error))
    _fail(EXIT_UNAVAILABLE, str(error))


TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Bearer token for the services (default: $CONSENTRY_TOKEN, else CONSENTRY_TOKEN in "
        "$CONSENTRY_DATA_DIR/credentials.env, which `consentry up` writes; .consentry by default)",
        show_default=False,
    ),
]


@app.callback()
def _global_options(token: TokenOption = None) -> None:
    """Consentry: training-data consent, checked item by item and recorded in a signed ledger."""
    if token:
        # Every command builds its client with the SDK's own token lookup, which reads this first.
        os.environ["CONSENTRY_TOKEN"] = token


# --- up -----------------------------------------------------------------------------------------


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where SQLite databases, keys, logs and traces go")] = Path(
        ".consentry"
    ),
    fetch_signals: Annotated[
        bool,
        typer.Option(
            "--fetch-signals",
            help="Rights fetches each origin's robots.txt, ai.txt and tdmrep.json and each item's headers "
            "(SSRF-safe: public addresses only), beside the evidence items carry",
        ),
    ] = False,
    allow_private_origins: Annotated[
        bool,
        typer.Option(
            "--allow-private-origins",
            help="Let --fetch-signals reach private and loopback addresses (testing)",
        ),
    ] = False,
    with_sample: Annotated[
        bool, typer.Option(help="Import the bundled sample registry and submit the sample manifest once up")
    ] = False,
) -> None:
    """Start the broker, the database and the three services; stop them all on Ctrl-C or SIGTERM.

    Uses the embedded broker unless KAFKA_BOOTSTRAP_SERVERS is set, and SQLite files in
    DATA_DIR unless DATABASE_URL is set.
    """
    from consentry.supervisor import StartupFailed

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    tokens = _ensure_credentials(data_dir)
    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        from consentry.embedded import EmbeddedBroker

        broker = EmbeddedBroker(log_path=data_dir / "logs" / "broker.log")
        broker.start()
        bootstrap = broker.bootstrap_servers
        err.print(f"embedded broker (Tansu) on {bootstrap}")
    else:
        err.print(f"Kafka at {bootstrap}")
    db = os.environ.get("DATABASE_URL")
    err.print(f"database: {'PostgreSQL/URL from DATABASE_URL' if db else f'SQLite in {data_dir}'}")
    extra_env = {}
    if fetch_signals:
        extra_env["CONSENTRY_RIGHTS_FETCH_SIGNALS"] = "true"
    if allow_private_origins:
        extra_env["CONSENTRY_RIGHTS_ALLOW_PRIVATE_ORIGINS"] = "true"
    if broker is not None:
        # Tansu re-forms a consumer group only when a departed member's session expires.
        extra_env["CONSENTRY_CONSUMER_SESSION_TIMEOUT_MS"] = "3000"
    supervisor = Supervisor(data_dir, bootstrap, extra_env=extra_env, say=err.print)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    try:
        supervisor.start_all()
        for service in supervisor.services:
            out.print(f"{service.name:>7}  {service.url}  (log: {service.log_path})", highlight=False)
        _write_endpoints(data_dir, bootstrap, supervisor)
        if with_sample:
            _run_sample(tokens, _urls_of(supervisor))
        err.print("[green]ready[/] — Ctrl-C stops everything")
        supervisor.watch()
    except StartupFailed as failure:
        err.print(f"[bold red]start-up failed:[/] {failure}", highlight=False)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    finally:
        err.print("stopping services…")
        supervisor.stop_all()
        if broker is not None:
            broker.stop()
        err.print("stopped")


def _write_endpoints(data_dir: Path, bootstrap: str, supervisor: Supervisor) -> None:
    """``DATA_DIR/endpoints.env``: where everything runs, for other shells and tools to source."""
    lines = [f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}"]
    lines += [f"CONSENTRY_{s.name.upper()}_URL={s.url}" for s in supervisor.services]
    (data_dir / "endpoints.env").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _tokens_file(data_dir: Path) -> Path:
    """The token file the services read (the same rule as their settings)."""
    configured = os.environ.get("CONSENTRY_TOKENS_FILE")
    return Path(configured) if configured else data_dir / "tokens.jsonl"


def _ensure_credentials(data_dir: Path) -> dict[str, str]:
    """At the first start, issue an admin token and a token for the sample's platform, and write
    them to ``DATA_DIR/credentials.env`` (0600), where the CLI and SDK look for a token. Later
    starts keep the token file (only hashes: the tokens cannot be shown again) and reuse the
    credentials file. Returns the credentials found (empty if the file was removed)."""
    from consentry_shared.auth import Role, issue_token

    tokens, credentials = _tokens_file(data_dir), data_dir / "credentials.env"
    if not tokens.exists():
        admin = issue_token(tokens, Role.ADMIN, "admin")
        platform = issue_token(tokens, Role.PLATFORM, SAMPLE_PLATFORM)
        lines = [
            "# Written by `consentry up` at its first start; only hashes are in the token file, so",
            "# these tokens are shown nowhere else. The CLI and SDK use CONSENTRY_TOKEN by default.",
            f"CONSENTRY_TOKEN={admin}",
            f"CONSENTRY_ADMIN_TOKEN={admin}",
            f"CONSENTRY_PLATFORM={SAMPLE_PLATFORM}",
            f"CONSENTRY_PLATFORM_TOKEN={platform}",
        ]
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as target:
            target.write("\n".join(lines) + "\n")
        os.chmod(credentials, 0o600)  # an existing file keeps its old mode through O_CREAT
        err.print(f"issued an admin token and a token for platform {SAMPLE_PLATFORM}: {credentials}")
    elif not credentials.exists():
        err.print(
            f"authentication is on ({tokens}) but there is no {credentials}: pass --token or set "
            "CONSENTRY_TOKEN (`consentry token create` issues one)"
        )
        return {}
    else:
        err.print(f"credentials: {credentials}")
    found = {}
    for line in credentials.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            found[name.strip()] = value.strip()
    return found


def _urls_of(supervisor: Supervisor) -> Urls:
    """Where this supervisor's services answer (their ports may come from the environment)."""
    by_name = {s.name: s.url for s in supervisor.services}
    return Urls(by_name["ingest"], by_name["rights"], by_name["ledger"])


def _run_sample(tokens: dict[str, str], urls: Urls) -> None:
    registry = SAMPLES / "registry.jsonl"
    manifest = SAMPLES / "manifest.jsonl"
    try:
        # The operator loads the registry; the platform submits its manifest with its own token.
        with ConsentryClient(urls, token=tokens.get("CONSENTRY_ADMIN_TOKEN")) as admin:
            result = admin.import_registry(registry)
        err.print(f"imported {result['imported']} registry records from {registry}")
        with ConsentryClient(urls, token=tokens.get("CONSENTRY_PLATFORM_TOKEN")) as client:
            accepted = client.submit(manifest)
            _wait_with_progress(client, accepted)
            _print_summary(client.report(accepted["manifest_id"]))
    except ConsentryError as error:
        # The services stay up: the sample is a demonstration, not part of start-up.
        err.print(f"[bold red]the sample failed:[/] {error}", highlight=False)


# --- token --------------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="platform, holder or admin")],
    name: Annotated[
        str, typer.Option(help="The platform's name (as its manifests carry it), the holder's id, or a label")
    ],
    data_dir: Annotated[Path, typer.Option(help="The data directory `consentry up` uses")] = Path(
        ".consentry"
    ),
) -> None:
    """Issue a bearer token and print it, once: only its hash is stored (in DATA_DIR/tokens.jsonl,
    or CONSENTRY_TOKENS_FILE). The running services accept it at once."""
    from consentry_shared.auth import Role, issue_token

    try:
        parsed = Role(role)
    except ValueError:
        _fail(EXIT_BAD_INPUT, f"--role must be platform, holder or admin, not {role!r}")
    tokens = _tokens_file(data_dir.resolve())
    if not tokens.exists():
        err.print(
            f"note: {tokens} did not exist; with it, the services now require a token from every caller"
        )
    try:
        token = issue_token(tokens, parsed, name)
    except ValueError as error:
        _fail(EXIT_BAD_INPUT, str(error))
    err.print(f"{parsed.value} token for {name!r} (shown once; store it now):", highlight=False)
    sys.stdout.write(token + "\n")


# --- rights -------------------------------------------------------------------------------------

SIGNAL_FILE_KINDS = ("robots.txt", "ai.txt", "tdmrep.json")


def _signal_kind(path: Path, kind: str | None) -> str:
    """The signal file's kind: ``--kind``, else its name (``.well-known/tdmrep.json`` too)."""
    chosen = kind or path.name.lower()
    if chosen not in SIGNAL_FILE_KINDS:
        _fail(
            EXIT_BAD_INPUT,
            f"{path}: cannot tell which signal file this is from its name; "
            f"pass --kind ({', '.join(SIGNAL_FILE_KINDS)})",
        )
    return chosen


@rights_app.command("import")
def rights_import(
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            show_default=False,
            help="Registry records: JSONL (one reservation, deal, work or holder per line) or CSV (by a .csv "
            "name or --format csv; columns as in the README)",
        ),
    ] = None,
    signals: Annotated[
        Path | None,
        typer.Option(
            "--signals",
            exists=True,
            dir_okay=False,
            show_default=False,
            help="An origin's robots.txt, ai.txt or tdmrep.json to import as reservations (kept as evidence)",
        ),
    ] = None,
    origin: Annotated[
        str | None, typer.Option(help="With --signals: the origin it was served from, https://host")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="With --signals: robots.txt, ai.txt or tdmrep.json (default: the name)")
    ] = None,
    holder: Annotated[
        str | None,
        typer.Option(help="With --signals and an admin token: the holder, for an unregistered origin"),
    ] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: csv for a .csv file)")
    ] = None,
) -> None:
    """Bulk-load registry records, or an origin's signal file, into the rights service (all or nothing)."""
    if (file is None) == (signals is None):
        _fail(EXIT_BAD_INPUT, "give a registry FILE or --signals FILE (one of the two)")
    if signals is not None:
        if not origin:
            _fail(EXIT_BAD_INPUT, "--signals needs --origin (the https://host the file came from)")
        _rights_import_signals(signals, str(origin), _signal_kind(signals, kind), holder)
        return
    assert file is not None
    if format not in (None, "jsonl", "csv"):
        _fail(EXIT_BAD_INPUT, f"--format {format}: use jsonl or csv")
    with ConsentryClient() as client:
        try:
            result = client.import_registry(file, csv=None if format is None else format == "csv")
        except ConsentryError as error:
            _client_errors(error, str(file))
    kinds = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(result["by_kind"].items()))
    out.print(
        f"imported {result['imported']} records ({kinds}); registry version {result['registry_version']}"
    )


def _rights_import_signals(path: Path, origin: str, kind: str, holder: str | None) -> None:
    with ConsentryClient() as client:
        try:
            result = client.import_signals(path, origin=origin, kind=kind, holder=holder)
        except ConsentryError as error:
            _client_errors(error, str(path))
    out.print(
        f"{kind} of {result['origin']} for {result['holder']}: {result['imported']} reservation(s); "
        f"registry version {result['registry_version']}; evidence sha256 {result['evidence_sha256']}",
        highlight=False,
    )
    for record_id in result["records"]:
        out.print(f"  {record_id}", highlight=False)
    for note in result["notes"]:
        err.print(f"note: {note}", highlight=False)


@rights_app.command("register-origin")
def rights_register_origin(
    origin: Annotated[str, typer.Argument(help="https://host (scheme, host and port only)")],
    holder: Annotated[str, typer.Argument(help="The holder id it belongs to")],
) -> None:
    """Register an origin to a holder (admin token), who may then import its signal files."""
    with ConsentryClient() as client:
        try:
            result = client.register_origin(origin, holder)
        except ConsentryError as error:
            _client_errors(error)
    out.print(f"{result['origin']} is registered to {result['holder']}", highlight=False)


@rights_app.command("list")
def rights_list(
    kind: Annotated[str | None, typer.Option(help="reservation, deal, work or holder")] = None,
    holder: Annotated[str | None, typer.Option(help="Only this holder's records")] = None,
    as_of_version: Annotated[
        int | None, typer.Option("--as-of-version", min=0, help="The registry as it stood after import N")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The registry as recorded at this time (RFC 3339)")
    ] = None,
    valid_at: Annotated[
        str | None, typer.Option("--valid-at", help="Only records in force at this time (RFC 3339)")
    ] = None,
) -> None:
    """Print the registry as JSONL (one record per line, as an import line); the version on stderr.

    A platform token sees its own deals only; reservations and works are public.
    """
    with ConsentryClient() as client:
        try:
            version, lines = client.registry_lines(
                kind=kind, holder=holder, as_of_version=as_of_version, as_of=as_of, valid_at=valid_at
            )
        except ConsentryError as error:
            _client_errors(error)
    count = 0
    for line in lines:
        sys.stdout.write(line + "\n")
        count += 1
    sys.stdout.flush()
    err.print(f"registry version {version}: {count} record(s)", highlight=False)


@rights_app.command("show")
def rights_show(
    kind: Annotated[str, typer.Argument(help="reservation, deal, work or holder")],
    record_id: Annotated[str, typer.Argument(metavar="ID", help="The record's id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the history as JSON")] = False,
) -> None:
    """Show one record and its history: every version, when it was recorded, what replaced it."""
    with ConsentryClient() as client:
        try:
            history = client.record_history(kind, record_id)
        except ConsentryError as error:
            _client_errors(error)
    if as_json:
        out.print_json(data=history)
        return
    state = "current" if history["current"] is not None else "no current version"
    out.print(f"{kind} {record_id} ({state}, {len(history['versions'])} version(s))", highlight=False)
    for version in history["versions"]:
        until = version["superseded_in"]
        span = f"v{version['registry_version']}" + (f"-v{until - 1}" if until else "-now")
        out.print(f"  {span:<12} recorded {version['recorded_at']}", highlight=False)
        out.print(f"    {json.dumps(version['record'], sort_keys=True)}", highlight=False)


# --- submit -------------------------------------------------------------------------------------

MANIFEST_HELP = "Manifest: JSONL, CSV, Parquet, Croissant JSON-LD or CDXJ"
FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="jsonl, csv, parquet, croissant or cdxj (default: detected)"),
]
ColumnOption = Annotated[
    list[str] | None,
    typer.Option("--column", help="Parquet: FIELD=COLUMN, e.g. --column url=image_url (repeatable)"),
]


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=MANIFEST_HELP)],
    platform: Annotated[
        str | None, typer.Option(help="Your platform id (overrides the manifest header)")
    ] = None,
    purpose: Annotated[
        str | None, typer.Option(help="ai-generative-training, ai-training, ai-inference or search")
    ] = None,
    format: FormatOption = None,
    territory: Annotated[
        str | None, typer.Option(help="ISO 3166 alpha-2 code where the data is used")
    ] = None,
    column: ColumnOption = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show progress until every item is in the ledger, then a summary")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the machine-readable report (implies --wait)")
    ] = False,
    fail_on_violation: Annotated[
        bool, typer.Option("--fail-on-violation", help="Exit 3 if any item is a violation (implies --wait)")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the ledger")] = 3600.0,
    token: TokenOption = None,
) -> None:
    """Upload a manifest to ingest; optionally wait for every verdict.

    Large files go up in a resumable session: a dropped connection is resumed where the
    service's committed offset says, so the manifest is sent once and keeps one id."""
    _global_options(token)
    columns = _column_mapping(column)
    with ConsentryClient() as client:
        try:
            with _upload_progress(file.stat().st_size, quiet=as_json) as on_bytes:
                accepted = client.submit(
                    file,
                    platform=platform,
                    purpose=purpose,
                    format=format,
                    territory=territory,
                    columns=columns,
                    on_bytes=on_bytes,
                )
        except ConsentryError as error:
            _client_errors(error, str(file))
        if not (wait or as_json or fail_on_violation):
            out.print(
                f"manifest {accepted['manifest_id']}: {accepted['items']} items accepted "
                f"(platform {accepted['platform']}, purpose {accepted['purpose']})",
                highlight=False,
            )
            return
        try:
            _wait_with_progress(client, accepted, timeout=timeout, quiet=as_json)
            report = client.report(accepted["manifest_id"])
        except ConsentryError as error:
            _client_errors(error)
    if as_json:
        sys.stdout.write(json.dumps(_json_report(accepted, report), indent=2) + "\n")
    else:
        _print_summary(report)
    if fail_on_violation and report["counts"].get("violation", 0) > 0:
        raise typer.Exit(EXIT_VIOLATION)


@app.command()
def check(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help=f"{MANIFEST_HELP}, or a dataset card")
    ],
    format: FormatOption = None,
    column: ColumnOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Read a manifest here, as ingest would, and say what it holds; nothing is uploaded.

    Every error names the line (or record) and field, as the upload's would. A Hugging Face
    dataset card shows the licence its data files' items take. Exit 0 when ingest would accept
    the file, 2 when it would reject it."""
    from consentry.check import check_manifest  # the ingest readers: imported only when used
    from consentry_ingest.domain import UnsupportedFormatError
    from consentry_ingest.domain.formats.parquet import ColumnMappingError

    columns = _column_mapping(column)
    try:
        result = check_manifest(file, format=format, columns=columns)
    except (UnsupportedFormatError, ColumnMappingError) as error:
        _fail(EXIT_BAD_INPUT, f"{file}: {error}")
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
    else:
        _print_check(result)
    if not result.ok:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_check(result: CheckResult) -> None:
    source = str(result.path)
    if result.card is not None:
        card = result.card
        files = (
            "every data file"
            if not card.data_files
            else ", ".join(pattern for found in card.data_files for pattern in found.patterns)
        )
        out.print(
            f"{source}: a Hugging Face dataset card: items without a licence of their own in {files} "
            f"take {card.license or 'no licence (the card declares none)'}"
            + (f" (Hub: {', '.join(card.hf_license)})" if card.hf_license else ""),
            highlight=False,
        )
        out.print("  a card has no items: submit the data files it describes", highlight=False)
        return
    if result.error_total:
        shown = [{"line": e.line, "field": e.field, "message": e.message} for e in result.errors]
        more = result.error_total - len(shown)
        _fail(
            EXIT_BAD_INPUT,
            f"{source} ({result.format}): ingest would reject it: {result.error_total} error(s)"
            + (f", the first {len(shown)} below" if more else ""),
            shown,
            source,
        )
    items = result.items

    def share(count: int) -> str:
        return f"{count:,} ({count / items:.0%})" if items else "0"

    out.print(
        f"{source} ({result.format}): {items:,} items, no errors: ingest would accept it", highlight=False
    )
    top = ", ".join(f"{name} {count:,}" for name, count in result.licences.most_common(8))
    out.print(f"  licences: {top}", highlight=False)
    out.print(
        f"  with sha256 {share(result.with_sha256)}, md5 {share(result.with_md5)}, crawl-time evidence "
        f"{share(result.with_evidence)}, work identifiers {share(result.with_identifiers)}",
        highlight=False,
    )


def _column_mapping(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            _fail(EXIT_BAD_INPUT, f"--column takes FIELD=COLUMN, not {pair!r}")
        mapping[field.strip()] = column.strip()
    return mapping


@contextmanager
def _upload_progress(size: int, *, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A transfer bar for uploads big enough to watch (on a terminal)."""
    if quiet or size < 8 * 1024 * 1024 or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("upload", total=size)
        yield lambda n: progress.advance(task, n)


def _wait_with_progress(
    client: ConsentryClient, accepted: dict[str, Any], *, timeout: float = 3600.0, quiet: bool = False
) -> None:
    """Poll the ledger until every item has its entry, with a live bar: items ledgered of the
    total, the rate, the time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    total = int(accepted["items"])
    progress = Progress(
        TextColumn("ledgered"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        _ItemRateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    )
    with progress:
        task = progress.add_task("ledger", total=total)
        client.wait(
            accepted["manifest_id"],
            total,
            timeout=timeout,
            on_progress=lambda done: progress.update(task, completed=done),
        )


def _item_rate(speed: float | None) -> str:
    if speed is None:
        return "– items/s"
    return f"{speed:,.0f} items/s" if speed >= 10 else f"{speed:.1f} items/s"


class _ItemRateColumn(ProgressColumn):
    """Items per second, from rich's own speed estimate over the recent updates."""

    def render(self, task: Task) -> Text:
        return Text(_item_rate(task.finished_speed or task.speed), style="progress.data.speed")


def _json_report(accepted: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    return {
        "manifest_id": report["manifest_id"],
        "platform": accepted["platform"],
        "purpose": accepted["purpose"],
        "items": accepted["items"],
        "counts": report["counts"],
        "reasons": report["reasons"],
        "checkpoint": report.get("checkpoint"),
        "results": [
            {"id": i["id"], "verdict": i["verdict"], "reasons": i["reasons"], "ledger_index": i["index"]}
            for i in report["items"]
        ],
    }


def _print_summary(report: dict[str, Any], *, all_items_up_to: int = 50) -> None:
    """A human summary: counts by verdict, top reasons, then every item (small manifests) or the
    violations (large ones; `--json` has them all)."""
    from rich.table import Table

    styles = {"consent": "green", "violation": "red", "unknown": "yellow"}
    counts = report["counts"]
    out.print(f"manifest {report['manifest_id']}", highlight=False, soft_wrap=True)
    summary = ", ".join(
        f"[{styles[v]}]{counts[v]} {v}[/]" for v in ("consent", "violation", "unknown") if counts.get(v)
    )
    out.print(f"{report['ledgered']} items in the ledger: {summary}")
    items = report["items"]
    shown = items if len(items) <= all_items_up_to else [i for i in items if i["verdict"] != "consent"]
    if shown:
        table = Table("item", "verdict", "reasons", "ledger index", box=None, pad_edge=False)
        for item in shown[:all_items_up_to]:
            style = styles.get(item["verdict"], "")
            table.add_row(
                item["id"], f"[{style}]{item['verdict']}[/]", ", ".join(item["reasons"]), str(item["index"])
            )
        out.print(table)
        if len(shown) > all_items_up_to:
            out.print(f"… and {len(shown) - all_items_up_to} more violations (use --json for all)")
    reasons = Table("top reasons", "items", box=None, pad_edge=False)
    for reason, n in list(report["reasons"].items())[:10]:
        reasons.add_row(reason, str(n))
    out.print(reasons)


@app.command()
def status(
    manifest_id: Annotated[
        str | None, typer.Argument(help="A manifest id: show how far it is instead of the services")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    token: TokenOption = None,
) -> None:
    """Summarise the three services: live, ready (broker, database, consumer) and their numbers;
    or, given a MANIFEST_ID, how far it is: items received by ingest, decided by rights (by
    verdict) and entered in the ledger (a platform: its own manifests only).

    Exits 0 when all three are ready, 4 otherwise.
    """
    from consentry.client import Urls

    _global_options(token)
    if manifest_id is not None:
        with ConsentryClient() as client:
            try:
                state = client.status(manifest_id)
            except ConsentryError as error:
                _client_errors(error)
        if as_json:
            sys.stdout.write(json.dumps(state, indent=2) + "\n")
        else:
            received = "?" if state["received"] is None else state["received"]
            verdicts = ", ".join(f"{verdict} {n}" for verdict, n in sorted(state["verdicts"].items()))
            out.print(
                f"manifest {state['manifest_id']}: received {received}, decided {state['decided']}"
                + (f" ({verdicts})" if verdicts else "")
                + f", ledgered {state['ledgered']}",
                highlight=False,
            )
        return

    urls = Urls()
    results: dict[str, Any] = {}
    with ConsentryClient(urls, timeout=5.0) as client:
        for name, url in (("ingest", urls.ingest), ("rights", urls.rights), ("ledger", urls.ledger)):
            results[name] = {"url": url, **client.service_status(url)}
    all_ready = all(r["ready"] for r in results.values())
    if as_json:
        sys.stdout.write(json.dumps({"ready": all_ready, "services": results}, indent=2) + "\n")
    else:
        from rich.table import Table

        table = Table("service", "url", "live", "ready", "details", box=None, pad_edge=False)
        for name, r in results.items():
            live = "[green]yes[/]" if r["live"] else "[red]no[/]"
            ready = "[green]yes[/]" if r["ready"] else "[red]no[/]"
            details = ", ".join(f"{k}: {v}" for k, v in r["details"].items())
            table.add_row(name, r["url"], live, ready, details)
        out.print(table)
    if not all_ready:
        raise typer.Exit(EXIT_UNAVAILABLE)


@app.command()
def trace(
    manifest_id: Annotated[str, typer.Argument(help="The id `consentry submit` printed")],
    data_dir: Annotated[Path, typer.Option(help="The data directory `consentry up` used")] = Path(
        ".consentry"
    ),
) -> None:
    """Print a manifest's span tree (upload -> rights decisions -> ledger appends) with durations,
    from the local trace files (OTEL_TRACES_EXPORTER=file, the embedded default)."""
    from consentry.traces import TraceNotFound, manifest_trace, render

    try:
        roots = manifest_trace(data_dir / "traces", manifest_id)
    except TraceNotFound as missing:
        _fail(EXIT_BAD_INPUT, str(missing))
    for line in render(roots):
        out.print(line, highlight=False, soft_wrap=True)


@app.command()
def report(
    manifest_id: Annotated[str, typer.Argument(help="The id `consentry submit` printed")],
    fmt: Annotated[
        str, typer.Option("--format", help="text (default), json, csv, or html (one self-contained page)")
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file")] = None,
    token: TokenOption = None,
) -> None:
    """Show a manifest's verdicts as recorded in the ledger."""
    _global_options(token)
    from consentry import reports

    fmt = "json" if as_json else fmt
    renderers = {"json": reports.as_json, "csv": reports.as_csv, "html": reports.as_html}
    if fmt != "text" and fmt not in renderers:
        _fail(EXIT_BAD_INPUT, f"--format must be text, json, csv or html, not {fmt!r}")
    with ConsentryClient() as client:
        try:
            result = client.report(manifest_id)
            if not result.get("ledgered") and client.received(manifest_id) is None:
                _fail(
                    EXIT_BAD_INPUT,
                    f"no manifest {manifest_id!r}: neither ingest nor the ledger has a record of it "
                    "(use the id `consentry submit` printed)",
                )
        except ConsentryError as error:
            _client_errors(error)
    if fmt == "text":
        _print_summary(result)
        return
    text = renderers[fmt](result)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


# --- ledger -------------------------------------------------------------------------------------


@ledger_app.command("export")
def ledger_export(
    directory: Annotated[
        Path, typer.Argument(help="Export directory (C2SP tlog-tiles layout); re-export only adds")
    ],
) -> None:
    """Export the log for offline verification: checkpoint, vkey, entry bundles and hash tiles."""
    from consentry.ledger_tools import export_log

    with ConsentryClient() as client:
        try:
            stats = export_log(client, directory)
        except ConsentryError as error:
            _client_errors(error)
    out.print(stats, highlight=False)


ledger_proof_app = typer.Typer(
    help="Proofs from the live log, each verified against a signed checkpoint before it is shown.",
    no_args_is_help=True,
)
ledger_app.add_typer(ledger_proof_app, name="proof")

_LedgerUrl = Annotated[
    str | None,
    typer.Option(
        "--url", help="The ledger's base URL (default: $CONSENTRY_LEDGER_URL or http://127.0.0.1:8703)"
    ),
]
_Vkey = Annotated[
    str | None,
    typer.Option(
        "--vkey",
        help="The log's verifier key, or a file holding it (default: the key the log serves, which "
        "checks consistency but not the log's identity)",
    ),
]
_AsJson = Annotated[bool, typer.Option("--json", help="Print the proof as JSON (hashes in base64)")]


def _ledger_url(url: str | None) -> str:
    from consentry.client import Urls

    return url or Urls().ledger


def _checked(fetch: Any) -> dict[str, Any]:
    """Run a proof fetch-and-verify, mapping its failures to the documented exit codes."""
    from consentry.proofs import ProofFailed, ProofUsageError

    try:
        result: dict[str, Any] = fetch()
    except ProofUsageError as error:
        _fail(EXIT_BAD_INPUT, str(error))
    except ProofFailed as failure:
        err.print(f"[bold red]proof FAILED:[/] {failure}", highlight=False)
        raise typer.Exit(EXIT_VERIFY_FAILED) from None
    except ConsentryError as error:
        _client_errors(error)
    if not result.get("vkey_independent"):
        err.print("note: checked with the key the log serves; pass --vkey to check its identity too")
    return result


@ledger_proof_app.command("inclusion")
def ledger_proof_inclusion(
    index: Annotated[int | None, typer.Option("--index", min=0, help="The entry's index")] = None,
    size: Annotated[
        int | None, typer.Option("--size", min=1, help="Tree size of a signed checkpoint (default: latest)")
    ] = None,
    event_id: Annotated[
        str | None, typer.Option("--event-id", help="Find the entry by decision event id")
    ] = None,
    manifest_id: Annotated[str | None, typer.Option("--manifest-id", help="With --item-id")] = None,
    item_id: Annotated[
        str | None, typer.Option("--item-id", help="Find the item's latest entry (with --manifest-id)")
    ] = None,
    url: _LedgerUrl = None,
    vkey: _Vkey = None,
    as_json: _AsJson = False,
) -> None:
    """Prove that an entry is in the log (RFC 9162 inclusion proof, verified).

    Fetches the entry, re-hashes it and verifies its inclusion proof against the signed
    checkpoint.

    Exit codes:
      0  the proof verifies
      1  it does not, or the checkpoint is not signed by the key
      2  bad arguments or key, or no such entry or checkpoint size
      4  the ledger cannot be reached
    """
    from consentry.proofs import LedgerHttp, checked_inclusion, resolve_key

    if index is None and event_id is None and not (manifest_id and item_id):
        _fail(EXIT_BAD_INPUT, "give --index, --event-id, or --manifest-id with --item-id")
    with LedgerHttp(_ledger_url(url)) as http:
        result = _checked(
            lambda: checked_inclusion(
                http,
                resolve_key(vkey, http),
                index=index,
                size=size,
                event_id=event_id,
                manifest_id=manifest_id,
                item_id=item_id,
            )
        )
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    entry = result["entry"]
    out.print(
        f"OK: entry {result['index']} ({entry.get('verdict')} for item {entry.get('item_id')} of manifest "
        f"{entry.get('manifest_id')}) is in the signed tree of size {result['tree_size']}; "
        f"{len(result['hashes'])}-hash inclusion proof verified",
        highlight=False,
    )


@ledger_proof_app.command("consistency")
def ledger_proof_consistency(
    from_size: Annotated[
        int | None, typer.Option("--from", min=0, help="The older tree size (default: that of --since)")
    ] = None,
    to_size: Annotated[
        int | None, typer.Option("--to", min=1, help="Tree size of a signed checkpoint (default: latest)")
    ] = None,
    since: Annotated[
        Path | None,
        typer.Option(
            "--since",
            exists=True,
            dir_okay=False,
            help="A checkpoint you saved: prove the log still extends it",
        ),
    ] = None,
    url: _LedgerUrl = None,
    vkey: _Vkey = None,
    as_json: _AsJson = False,
) -> None:
    """Prove that the log only grew between two sizes (RFC 9162 consistency proof, verified).

    No entry changed, removed or reordered: the proof between the two signed checkpoints
    verifies.

    Exit codes:
      0  the proof verifies
      1  it does not (a split view or a rollback), or a checkpoint is not signed by the key
      2  bad arguments or key, or no checkpoint of that size
      4  the ledger cannot be reached
    """
    from consentry.proofs import LedgerHttp, checked_consistency, resolve_key

    saved = since.read_text(encoding="utf-8") if since is not None else None
    with LedgerHttp(_ledger_url(url)) as http:
        result = _checked(
            lambda: checked_consistency(
                http, resolve_key(vkey, http), old_size=from_size, new_size=to_size, since=saved
            )
        )
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    out.print(
        f"OK: the tree of size {result['from']} is a prefix of the signed tree of size {result['to']}; "
        f"{len(result['hashes'])}-hash consistency proof verified",
        highlight=False,
    )


@ledger_app.command("monitor")
def ledger_monitor(
    url: _LedgerUrl = None,
    vkey: _Vkey = None,
    interval: Annotated[float, typer.Option(min=0.0, help="Seconds between looks at the log")] = 10.0,
    state: Annotated[
        Path | None,
        typer.Option(help="Keep the last checkpoint seen here, so a restarted monitor resumes from it"),
    ] = None,
    checks: Annotated[int, typer.Option(min=0, help="Stop after this many looks (0: run until Ctrl-C)")] = 0,
) -> None:
    """Watch a log for rollbacks and split views (alerts with exit 1).

    Each look reads the log's checkpoint, checks its signature and proves (RFC 9162
    consistency) that it extends the last one seen.

    Exit codes:
      0  stopped after --checks looks (or Ctrl-C) with nothing wrong
      1  ALERT: a rollback, a split view, or a checkpoint not signed by the key
      2  bad arguments, key or state file
      4  the log could not be reached at any look (failed looks are retried at the next one)
    """
    import time as _time

    from consentry.proofs import LedgerHttp, ProofFailed, ProofUsageError, observe, resolve_key

    previous = state.read_text(encoding="utf-8") if state is not None and state.exists() else None
    looks = failures = 0
    with LedgerHttp(_ledger_url(url)) as http:
        try:
            key = resolve_key(vkey, http if vkey is None else None)
        except ProofUsageError as error:
            _fail(EXIT_BAD_INPUT, str(error))
        except ConsentryError as error:
            _client_errors(error)
        if not key.independent:
            err.print("note: using the key the log serves; pass --vkey to check its identity too")
        try:
            while not checks or looks < checks:
                if looks:
                    _time.sleep(interval)
                looks += 1
                try:
                    seen = observe(http, key, previous)
                except ConsentryError as error:
                    failures += 1
                    err.print(f"warning: look {looks}: {error}", highlight=False)
                    continue
                if seen.grew_from is not None or previous is None:
                    grown = (
                        f" (+{seen.checkpoint.size - seen.grew_from}, consistent)" if seen.grew_from else ""
                    )
                    out.print(
                        f"{seen.checkpoint.origin} size {seen.checkpoint.size} root "
                        f"{seen.checkpoint.root_hash.hex()[:16]}…{grown}",
                        highlight=False,
                    )
                previous = seen.note
                if state is not None:
                    state.write_text(previous, encoding="utf-8")
        except ProofFailed as alert:
            err.print(f"[bold red]ALERT:[/] {alert}", highlight=False)
            raise typer.Exit(EXIT_VERIFY_FAILED) from None
        except KeyboardInterrupt:
            pass
    if looks and failures == looks:
        raise typer.Exit(EXIT_UNAVAILABLE)


@ledger_app.command("witness")
def ledger_witness(
    key: Annotated[str, typer.Option("--key", help="The witness's secret key, or a file holding it")],
    vkey: Annotated[str, typer.Option("--vkey", help="The log's verifier key, or a file holding it")],
    url: _LedgerUrl = None,
    state: Annotated[
        Path | None,
        typer.Option(
            help="Where the witness keeps the last checkpoint it cosigned, per log "
            "(default: ~/.consentry/witness)"
        ),
    ] = None,
    every: Annotated[
        float, typer.Option(min=0.0, help="Witness again every this many seconds (0: once)")
    ] = 0.0,
    checks: Annotated[int, typer.Option(min=0, help="With --every: stop after this many rounds")] = 0,
) -> None:
    """Witness a log: check its new checkpoint, cosign it, hand the cosignature to the log.

    The witness proves the log's latest checkpoint extends the one it cosigned last, cosigns it
    (C2SP tlog-cosignature) and hands the cosignature to the log, which serves it.
    The checks are those of the tlog-witness add-checkpoint call: the log's signature (403),
    the old size is the one last cosigned (409), the same size has the same root (409), the
    consistency proof verifies (422).
    Make a key with `consentry ledger witness-key`; the log accepts cosignatures from the keys
    in CONSENTRY_LEDGER_WITNESSES.

    Exit codes:
      0  cosigned (the log may already have had this cosignature)
      1  REFUSED: a split view or a rollback, or a checkpoint not signed by the log's key
      2  bad arguments or keys, or the log's origin is not the name of --vkey
      4  the log cannot be reached
    """
    import time as _time

    from consentry.proofs import (
        LedgerHttp,
        ProofFailed,
        ProofUsageError,
        Witness,
        WitnessState,
        resolve_key,
        witness_once,
    )
    from consentry_shared.tlog import Cosigner

    try:
        cosigner = Cosigner.from_skey((Path(key).read_text() if Path(key).is_file() else key).strip())
        log_key = resolve_key(vkey, None)
    except (ValueError, ProofUsageError) as error:
        _fail(EXIT_BAD_INPUT, f"bad key: {error}")
    directory = state if state is not None else Path.home() / ".consentry" / "witness"
    witness = Witness(cosigner, [log_key.verifier], WitnessState(directory))
    rounds = 0
    with LedgerHttp(_ledger_url(url)) as http:
        while True:
            rounds += 1
            try:
                size, stored = witness_once(http, log_key, witness)
            except ProofFailed as refusal:
                err.print(f"[bold red]REFUSED:[/] {refusal}", highlight=False)
                raise typer.Exit(EXIT_VERIFY_FAILED) from None
            except ProofUsageError as error:
                _fail(EXIT_BAD_INPUT, str(error))
            except ConsentryError as error:
                _client_errors(error)
            out.print(
                f"{cosigner.name} cosigned size {size}" + ("" if stored else " (the log already had it)"),
                highlight=False,
            )
            if not every or (checks and rounds >= checks):
                return
            _time.sleep(every)


@ledger_app.command("witness-key")
def ledger_witness_key(
    name: Annotated[str, typer.Argument(help="The witness's name, e.g. witness.example.org/auditor-1")],
    out_file: Annotated[Path, typer.Option("--out", help="Write the secret key here (mode 0600)")],
) -> None:
    """Make a witness key: the secret key goes to --out, the verifier key is printed.

    Give the verifier key to the log operator (CONSENTRY_LEDGER_WITNESSES).
    """
    from consentry_shared.tlog import Cosigner

    if out_file.exists():
        _fail(EXIT_BAD_INPUT, f"{out_file} exists; not overwriting a key")
    try:
        cosigner = Cosigner.generate(name)
    except ValueError as error:
        _fail(EXIT_BAD_INPUT, str(error))
    descriptor = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as secret:
        secret.write(cosigner.skey + "\n")
    sys.stdout.write(cosigner.vkey + "\n")


@ledger_app.command("verify")
def ledger_verify(
    directory: Annotated[
        Path | None,
        typer.Argument(exists=True, file_okay=False, help="An export made by `consentry ledger export`"),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Verify a live log instead, by reading the tiles it serves"),
    ] = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            help="The log's verifier key, or a file holding it (default: DIR/vkey, or the key the log "
            "serves; pass it to trust nothing the log provides)"
        ),
    ] = None,
    since: Annotated[
        Path | None,
        typer.Option(
            help="A checkpoint you saved earlier: the log must be consistent with it; on success the "
            "file is updated to the newly verified checkpoint (unless --save says where)"
        ),
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="Write the verified checkpoint here for next time")
    ] = None,
) -> None:
    """Verify the whole log, offline from an export DIR or live from --url.

    Checks the checkpoint's signature, re-hashes and schema-checks every entry, contiguous
    indexes, per-partition offsets increasing, rebuilds the root, and proves consistency with
    the checkpoint you saved.

    DIR: needs nothing but the export and the key (no database, broker or network).
    --url: reads the live log's tiles over HTTP and verifies exactly what it serves.

    Exit codes:
      0  verified
      1  verification failed: the message names the first bad entry
      2  the export, key or saved checkpoint cannot be read, or bad arguments
      4  the log at --url cannot be reached
    """
    from consentry.ledger_tools import VerifyUsageError, verify_log, verify_url

    if (directory is None) == (url is None):
        _fail(EXIT_BAD_INPUT, "give an export DIR or --url, not both")
    try:
        if url is not None:
            result = verify_url(url, vkey=vkey, since=since, save=save)
        else:
            assert directory is not None
            result = verify_log(directory, vkey=vkey, since=since, save=save)
    except VerifyUsageError as error:
        _fail(EXIT_BAD_INPUT, str(error))
    except ConsentryError as error:
        _client_errors(error)
    for note in result.notes:
        err.print(note, highlight=False)
    if not result.ok:
        err.print(f"[bold red]verification FAILED:[/] {result.message}", highlight=False)
        raise typer.Exit(EXIT_VERIFY_FAILED)
    out.print(result.message, highlight=False)


# The issue and the docs name it `consentry witness`: an auditor's command more than a ledger's.
app.command("witness", help="Witness a log (the same as `consentry ledger witness`).")(ledger_witness)

# The two replays (consentry/audit.py): re-deciding every entry, and rebuilding the database.
app.add_typer(audit_app, name="audit")
ledger_app.command("rebuild")(ledger_rebuild)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
