"""`consentry report --format json|csv|html`: renderers of the ledger's per-manifest report."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from consentry.reports import as_csv, as_html, as_json

REPORT = {
    "manifest_id": "acme-ai:id:web@abc",
    "ledgered": 3,
    "counts": {"consent": 1, "violation": 1, "unknown": 1},
    "reasons": {"deal:d1": 1, "reservation:r<1>": 1, "signal-unreadable:robots.txt": 1},
    "items": [
        {"id": "a", "verdict": "consent", "reasons": ["deal:d1"], "index": 0, "url": "https://x.example/a"},
        {
            "id": "b<script>",
            "verdict": "violation",
            "reasons": ["reservation:r<1>"],
            "index": 1,
            "url": "https://x.example/b",
        },
        {
            "id": "c",
            "verdict": "unknown",
            "reasons": ["signal-unreadable:robots.txt"],
            "index": 2,
            "url": "https://x.example/c",
        },
    ],
    "checkpoint": "consentry.local/ledger\n3\nAAAA\n\n— consentry.local/ledger abcd\n",
}


def test_json_round_trips() -> None:
    assert json.loads(as_json(REPORT)) == REPORT


def test_csv_has_one_row_per_item() -> None:
    rows = list(csv.DictReader(io.StringIO(as_csv(REPORT))))
    assert [(r["id"], r["verdict"], r["ledger_index"]) for r in rows] == [
        ("a", "consent", "0"),
        ("b<script>", "violation", "1"),
        ("c", "unknown", "2"),
    ]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_escaped_and_lists_the_violations() -> None:
    page = as_html(REPORT)
    parsed = _Collect()
    parsed.feed(page)
    assert "script" not in parsed.tags  # no scripts, and the item id was escaped
    assert "link" not in parsed.tags and "src=" not in page  # nothing fetched
    assert parsed.tags.count("svg") == 3
    text = "".join(parsed.text)
    assert "b<script>" in text and "reservation:r<1>" in text
    assert "2 violation" not in text and "1 violation" in text


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)"
)
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(as_html(REPORT), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        ["chromium", *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert 'id="violations"' in dom
    assert dom.count('class="bar"') == 8  # 3 verdicts, 3 reasons, 2 deciding records
    assert "b&lt;script&gt;" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        ["chromium", *flags, f"--screenshot={shot}", "--window-size=1100,900", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
