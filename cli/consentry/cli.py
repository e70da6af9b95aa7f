"""The ``consentry`` command line.

Exit codes (all commands):
  0  success
  1  verification failed (``ledger verify``): the message names the first bad entry
  2  bad input or usage: the message names the file, line and field
  3  ``submit --fail-on-violation``: at least one item is a violation
  4  a service could not be reached or failed
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from consentry.client import (
    ConsentryClient,
    ConsentryError,
    RejectedInput,
    ServiceFailed,
    ServiceUnavailable,
)
from consentry.supervisor import Supervisor

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
app.add_typer(rights_app, name="rights")
app.add_typer(ledger_app, name="ledger")

out = Console()
err = Console(stderr=True)


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


# --- up -----------------------------------------------------------------------------------------


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where SQLite databases, keys, logs and traces go")] = Path(
        ".consentry"
    ),
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
            _run_sample()
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


def _run_sample() -> None:
    registry = SAMPLES / "registry.jsonl"
    manifest = SAMPLES / "manifest.jsonl"
    with ConsentryClient() as client:
        result = client.import_registry(registry)
        err.print(f"imported {result['imported']} registry records from {registry}")
        accepted = client.submit(manifest)
        _wait_with_progress(client, accepted)
        _print_summary(client.report(accepted["manifest_id"]))


# --- rights -------------------------------------------------------------------------------------


@rights_app.command("import")
def rights_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Registry JSONL: reservation, deal and work records"
        ),
    ],
) -> None:
    """Bulk-load registry records into the running rights service (all or nothing)."""
    with ConsentryClient() as client:
        try:
            result = client.import_registry(file)
        except ConsentryError as error:
            _client_errors(error, str(file))
    kinds = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(result["by_kind"].items()))
    out.print(
        f"imported {result['imported']} records ({kinds}); registry version {result['registry_version']}"
    )


# --- submit -------------------------------------------------------------------------------------


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Manifest: JSONL or CSV")],
    platform: Annotated[
        str | None, typer.Option(help="Your platform id (overrides the manifest header)")
    ] = None,
    purpose: Annotated[
        str | None, typer.Option(help="ai-generative-training, ai-training, ai-inference or search")
    ] = None,
    format: Annotated[str | None, typer.Option("--format", help="jsonl or csv (default: detected)")] = None,
    territory: Annotated[
        str | None, typer.Option(help="ISO 3166 alpha-2 code where the data is used")
    ] = None,
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
) -> None:
    """Upload a manifest to ingest; optionally wait for every verdict."""
    with ConsentryClient() as client:
        try:
            accepted = client.submit(
                file, platform=platform, purpose=purpose, format=format, territory=territory
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


def _wait_with_progress(
    client: ConsentryClient, accepted: dict[str, Any], *, timeout: float = 3600.0, quiet: bool = False
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    total = int(accepted["items"])
    progress = Progress(
        TextColumn("ledgered"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
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
def report(
    manifest_id: Annotated[str, typer.Argument(help="The id `consentry submit` printed")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Show a manifest's verdicts as recorded in the ledger."""
    with ConsentryClient() as client:
        try:
            result = client.report(manifest_id)
        except ConsentryError as error:
            _client_errors(error)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        _print_summary(result)


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


@ledger_app.command("verify")
def ledger_verify(
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="An export made by `consentry ledger export`")
    ],
    vkey: Annotated[
        str | None,
        typer.Option(
            help="The log's verifier key, or a file holding it (default: DIR/vkey; pass it to trust "
            "nothing in the export)"
        ),
    ] = None,
    since: Annotated[
        Path | None, typer.Option(help="A checkpoint you saved earlier: the log must be consistent with it")
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="Write the verified checkpoint here for next time")
    ] = None,
) -> None:
    """Verify an export offline: signature, every entry re-hashed, the root rebuilt, entry schema.

    Needs nothing but the export and the key. Exit 0 if it verifies, 1 naming the first bad
    entry if it does not, 2 if the export or key cannot be read.
    """
    from consentry.ledger_tools import VerifyUsageError, verify_log

    try:
        result = verify_log(directory, vkey=vkey, since=since, save=save)
    except VerifyUsageError as error:
        _fail(EXIT_BAD_INPUT, str(error))
    if not result.ok:
        err.print(f"[bold red]verification FAILED:[/] {result.message}", highlight=False)
        raise typer.Exit(EXIT_VERIFY_FAILED)
    out.print(result.message, highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
