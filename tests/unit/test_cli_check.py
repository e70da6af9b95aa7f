"""`consentry check FILE`: a manifest read locally with ingest's own readers, nothing uploaded."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from consentry.check import check_manifest
from consentry.cli import app

SHA = "ab" * 32


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["check", *args])
    return result.exit_code, result.stdout, result.stderr


def write_jsonl(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_a_good_manifest_is_accepted_with_a_profile_of_its_items(tmp_path: Path) -> None:
    manifest = write_jsonl(
        tmp_path / "m.jsonl",
        {"manifest": {"id": "web", "platform": "acme-ai"}},
        {"id": "1", "url": "https://a.example/1.jpg", "sha256": SHA, "license": "CC-BY-4.0"},
        {"id": "2", "url": "https://a.example/2.jpg", "license": "CC-BY-4.0", "isbn": "978-0-306-40615-7"},
        {"id": "3", "url": "https://a.example/3.jpg", "headers": {"X-Robots-Tag": "noai"}},
    )
    code, stdout, _ = run(str(manifest))
    assert code == 0
    assert "(jsonl): 3 items, no errors" in stdout
    assert "CC-BY-4.0 2, (none) 1" in stdout
    assert "with sha256 1 (33%)" in stdout
    assert "crawl-time evidence 1 (33%), work identifiers 1 (33%)" in stdout


def test_every_error_names_the_file_line_and_field_and_exits_2(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.jsonl"
    manifest.write_bytes(
        b'{"id":"a","url":"https://x.example/a"}\n'
        b'{"id":"a","url":"ftp://x.example/b"}\n'
        b'{"id":"c","url":"https://x.example/c","sha256":"abc"}\n'
        b"not json\n"
    )
    code, _, stderr = run(str(manifest))
    assert code == 2
    assert "ingest would reject it: 4 error(s)" in stderr
    assert f"{manifest}:2: field id: duplicate id 'a', first seen on line 1" in stderr
    assert f"{manifest}:2: field url:" in stderr
    assert f"{manifest}:3: field sha256: sha256 must be 64 hexadecimal characters" in stderr
    assert f"{manifest}:4:" in stderr


def test_json_output_is_what_a_script_needs(tmp_path: Path) -> None:
    manifest = write_jsonl(tmp_path / "m.jsonl", {"id": "1", "url": "https://a.example/1"}, {"id": "2"})
    result = CliRunner().invoke(app, ["check", str(manifest), "--json"])
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert body["items"] == 1
    assert body["errors"] == [{"line": 2, "field": "url", "message": body["errors"][0]["message"]}]
    assert body["error_total"] == 1


def test_only_the_first_errors_are_listed_but_all_are_counted(tmp_path: Path) -> None:
    manifest = write_jsonl(tmp_path / "m.jsonl", *({"id": str(n)} for n in range(250)))
    result = check_manifest(manifest)
    assert result.error_total == 250
    assert len(result.errors) == 100
    assert [error.line for error in result.errors] == list(range(1, 101))


def test_parquet_with_laion_columns_and_a_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "part-00000.parquet"
    table = pa.table(
        {
            "URL": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
            "TEXT": ["a cat", "a dog"],
            "LICENSE": ["?", "https://creativecommons.org/licenses/by/4.0/"],
            "picture": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
        }
    )
    pq.write_table(table, path)
    assert check_manifest(path).items == 2
    code, stdout, _ = run(str(path), "--column", "url=picture")
    assert code == 0
    assert "(parquet): 2 items" in stdout
    code, _, stderr = run(str(path), "--column", "colour=URL")
    assert code == 2
    assert "colour" in stderr


def test_an_empty_manifest_says_so(tmp_path: Path) -> None:
    manifest = tmp_path / "empty.jsonl"
    manifest.write_text('{"manifest": {"platform": "acme-ai"}}\n', encoding="utf-8")
    code, _, stderr = run(str(manifest))
    assert code == 2
    assert "no items in the manifest" in stderr


def test_a_dataset_card_shows_the_licence_its_files_take(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text(
        "---\nlicense: cc-by-4.0\nconfigs:\n- config_name: default\n  data_files:\n"
        "  - split: train\n    path: data/train-*.parquet\n---\n# A dataset\n",
        encoding="utf-8",
    )
    code, stdout, _ = run(str(card))
    assert code == 2  # a card is never uploaded on its own
    assert "items without a licence of their own in data/train-*.parquet take CC-BY-4.0" in stdout


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"", (), "the manifest is empty"),
        (b"\x00\x01\x02", ("--format", "tar"), "tar"),
        (b"\xff\xfe\x00", ("--format", "jsonl"), ":1:"),
    ],
)
def test_what_cannot_be_read_is_a_clear_error(
    tmp_path: Path, content: bytes, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(content)
    code, _, stderr = run(str(path), *args)
    assert code == 2
    assert message in stderr


def test_manifest_ids_print_as_written(tmp_path: Path) -> None:
    """Every manifest id holds ``:id:`` or ``:sha256:``; rich must not draw ``:id:`` as an emoji."""
    from consentry.cli import err, out

    for console in (out, err):
        with console.capture() as captured:
            console.print("manifest acme-ai:id:web@abc123", highlight=False)
        assert captured.get() == "manifest acme-ai:id:web@abc123\n"
