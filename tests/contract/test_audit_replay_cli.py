"""``consentry audit replay DIR``: an export of real engine decisions, replayed from disk.

The log is made as the pipeline makes it: ``decide()`` on items against registry version 1,
the decision fields rights publishes, the ledger's sequencer (batches, signed checkpoints), a
tlog-tiles export (300 entries: one full entry bundle and a partial one). Replays then run
through the CLI in-process, against the registry file they were decided with and against one
that has changed since.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consentry.cli import app as cli_app
from consentry_ledger.domain import PositionedDecision, sequence_batch
from consentry_rights.domain import Policy, RegistryView, decide
from consentry_shared.contracts.v1 import DecisionEvent, ItemEvent, Purpose, registry_record_adapter
from consentry_shared.tlog import CompactRange, Signer, encode_entry_bundle, entries_path, write_export

ORIGIN = "replay.example/ledger"
SIGNER = Signer.generate(ORIGIN)
POLICY = Policy("consentry-policy/1")
AT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
COUNT = 300
LICENCES = ["CC-BY-4.0", "MIT", "CC-BY-NC-4.0", None, "CC0-1.0"]
WORK = {"kind": "work", "id": "work-1", "holder": "guild", "sha256": "0" * 63 + "7", "license": "CC0-1.0"}
RESERVATION = {
    "kind": "reservation",
    "id": "res-photos",
    "holder": "photo-collective",
    "match": {"domain": "photos.example"},
    "purposes": ["ai-training"],
    "from": "2024-01-01T00:00:00Z",
}
ROBOTS = "User-agent: acme-ai\nDisallow: /private/\n"


def item(n: int) -> ItemEvent:
    host = "photos.example" if n % 3 == 0 else "blog.example"
    evidence = {"robots_txt": ROBOTS} if n % 7 == 0 else {}
    return ItemEvent(
        event_id=f"item-{n}",
        manifest_id="acme-ai:m-1",
        item_id=f"i-{n}",
        line=n + 1,
        platform="acme-ai",
        purpose=Purpose.AI_TRAINING,
        territory="DE" if n % 4 == 0 else "US",
        url=f"https://{host}/{'private' if n % 14 == 0 else 'public'}/{n}.jpg",
        sha256=WORK["sha256"] if n == 5 else None,
        license=LICENCES[n % len(LICENCES)],
        submitted_at=AT,
        evidence=evidence,
    )


def decision(n: int, view: RegistryView) -> DecisionEvent:
    """What rights publishes for item ``n`` (its service's ``_event``)."""
    the_item = item(n)
    made = decide(the_item, view, POLICY, AT)
    return DecisionEvent(
        event_id=f"d-{n}",
        item_event_id=the_item.event_id,
        manifest_id=the_item.manifest_id,
        item_id=the_item.item_id,
        platform=the_item.platform,
        purpose=the_item.purpose,
        url=str(the_item.url),
        sha256=the_item.sha256,
        verdict=made.verdict,
        reasons=list(made.reasons),
        evidence=list(made.evidence),
        policy_version=POLICY.version,
        registry_version=view.version,
        decided_at=AT,
        license=the_item.license,
        territory=the_item.territory,
        jurisdiction=the_item.jurisdiction,
        commercial=the_item.commercial,
    )


def write_registry(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DecisionEvent]]:
    view = RegistryView(works=[registry_record_adapter.validate_python(WORK)], version=1)  # type: ignore[list-item]
    decisions = [decision(n, view) for n in range(COUNT)]
    tree, leaves, note = CompactRange(), [], ""
    for start in range(0, COUNT, 100):
        plan = sequence_batch(
            [
                PositionedDecision(d, "decisions.v1", 0, i)
                for i, d in enumerate(decisions)
                if start <= i < start + 100
            ],
            tree=tree,
            known_event_ids=(),
            origin=ORIGIN,
            signer=SIGNER,
        )
        tree = plan.tree
        leaves += [e.leaf for e in plan.entries]
        assert plan.checkpoint_note is not None
        note = plan.checkpoint_note
    directory = tmp_path_factory.mktemp("export")
    write_export(directory, note, SIGNER.vkey, leaves)
    return directory, decisions


def replay(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app, ["audit", "replay", *args], env=env)
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_the_registry_the_log_was_decided_with_replays_to_the_same_verdicts(
    export: tuple[Path, list[DecisionEvent]], tmp_path: Path
) -> None:
    directory, _ = export
    registry = write_registry(tmp_path / "v1.jsonl", WORK)
    code, stdout, stderr = replay(str(directory), "--registry", str(registry), "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert (report["entries"], report["replayed"], report["agree"]) == (COUNT, COUNT, COUNT)
    assert report["differ"] == [] and report["not_replayed"] == []
    assert "used as is for every entry" in report["registry"]
    # Entries carrying the item inputs verify like any other (schema, canonical form, hashes).
    verified = CliRunner().invoke(cli_app, ["ledger", "verify", str(directory)])
    assert verified.exit_code == 0, verified.output
    assert f"OK: {COUNT} entries verified" in verified.stdout


def test_a_registry_changed_since_reports_each_flipped_entry_with_both_sides(
    export: tuple[Path, list[DecisionEvent]], tmp_path: Path
) -> None:
    directory, decisions = export
    registry = write_registry(tmp_path / "v2.jsonl", WORK, RESERVATION)
    flipped = [n for n, d in enumerate(decisions) if d.verdict == "consent" and "photos.example" in d.url]
    assert len(flipped) > 10  # the log has consents the reservation now refuses

    code, stdout, stderr = replay(str(directory), "--registry", str(registry), "--json")
    assert code == 1, stderr
    report = json.loads(stdout)
    assert [d["index"] for d in report["differ"]] == flipped
    first = report["differ"][0]
    assert first["logged"]["verdict"] == "consent" and first["replayed"]["verdict"] == "violation"
    assert first["logged"]["reasons"] == decisions[flipped[0]].reasons
    assert first["replayed"]["reasons"][0] == "reservation:res-photos"
    assert any(e["signal"] == "registry.reservation" for e in first["replayed"]["evidence"])
    assert report["agree"] == COUNT - len(flipped)

    code, text, _ = replay(str(directory), "--registry", str(registry), "--from", "200")
    assert code == 1
    later = [n for n in flipped if n >= 200]
    assert (
        f"from index 200: {COUNT - 200} replayed, {COUNT - 200 - len(later)} agree, {len(later)} differ"
        in text
    )
    assert f"entry {later[0]}: logged consent, replayed violation" in text
    assert "replayed reasons:  reservation:res-photos" in text


def test_another_policy_version_is_not_replayed_and_says_so(
    export: tuple[Path, list[DecisionEvent]], tmp_path: Path
) -> None:
    directory, _ = export
    registry = write_registry(tmp_path / "v1.jsonl", WORK)
    code, stdout, _ = replay(
        str(directory), "--registry", str(registry), "--json", env={"CONSENTRY_RIGHTS_POLICY_VERSION": "p/9"}
    )
    assert code == 5
    report = json.loads(stdout)
    assert report["replayed"] == 0 and len(report["not_replayed"]) == COUNT
    assert (
        "decided under policy 'consentry-policy/1'; the replay has 'p/9'"
        in report["not_replayed"][0]["reason"]
    )


def test_unreadable_input_exits_2_naming_the_place(
    export: tuple[Path, list[DecisionEvent]], tmp_path: Path
) -> None:
    directory, _ = export
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(WORK) + "\n" + json.dumps({**RESERVATION, "purposes": ["cooking"]}) + "\n")
    code, _, stderr = replay(str(directory), "--registry", str(bad))
    assert code == 2
    assert f"{bad}: line 2, field purposes.0" in stderr

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoint").write_text((directory / "checkpoint").read_text())
    leaves = [b'{"index": 0}'] * 256
    (broken / entries_path(0)).parent.mkdir(parents=True)
    (broken / entries_path(0)).write_bytes(encode_entry_bundle(leaves))
    code, _, stderr = replay(str(broken), "--registry", str(write_registry(tmp_path / "r.jsonl", WORK)))
    assert code == 2
    assert "entry 0: field event_id: Field required" in stderr

    code, _, stderr = replay(str(directory))
    assert code == 2 and "give one of --registry FILE or --rights-url URL" in stderr


def test_an_unreachable_log_exits_4(tmp_path: Path) -> None:
    registry = str(write_registry(tmp_path / "r.jsonl", WORK))
    code, _, stderr = replay("--url", "http://127.0.0.1:1", "--registry", registry)
    assert code == 4
    assert "cannot reach the ledger at http://127.0.0.1:1" in stderr
    code, _, stderr = replay(
        "--topic", "--registry", registry, env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    )
    assert code == 4
    assert "Unable to bootstrap from" in stderr
