"""A manifest's report as JSON, CSV or one self-contained HTML page (no scripts, no fetches).

All three are built from the ledger's per-manifest report (``GET /manifests/{id}/report``); the
HTML page draws its charts as inline SVG so it opens anywhere, offline, and can be archived with
the evidence it shows.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from typing import Any

VERDICT_COLOURS = {"consent": "#2e7d32", "violation": "#c62828", "unknown": "#f9a825"}


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def as_csv(report: dict[str, Any]) -> str:
    """One row per item: id, verdict, reasons (``;``-separated), ledger index, url."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "verdict", "reasons", "ledger_index", "url"])
    for item in report["items"]:
        writer.writerow(
            [item["id"], item["verdict"], ";".join(item["reasons"]), item["index"], item.get("url", "")]
        )
    return out.getvalue()


def _bars(title: str, rows: list[tuple[str, int, str]], width: int = 560) -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour) rows."""
    if not rows:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>none</p></figure>"
    top = max(value for _, value, _ in rows) or 1
    bar_height, label_width = 22, 250
    height = bar_height * len(rows) + 8
    parts = [
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, value, colour) in enumerate(rows):
        y = 4 + i * bar_height
        length = max(1, int((width - label_width - 60) * value / top))
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{html.escape(label[:40])}</text>"
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{length}" '
            f'height="{bar_height - 6}" fill="{colour}">'
            f"<title>{html.escape(label)}: {value}</title></rect>"
            f'<text x="{label_width + length + 6}" y="{y + 15}" font-size="12">{value}</text>'
        )
    parts.append("</svg>")
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{''.join(parts)}</figure>"


def _holders(report: dict[str, Any]) -> Counter[str]:
    """Records that decided items, by the record id in the reason (``deal:<id>``, ``reservation:<id>``...)."""
    counts: Counter[str] = Counter()
    for item in report["items"]:
        for reason in item["reasons"]:
            kind, _, ref = reason.partition(":")
            if ref and kind in ("deal", "reservation", "work-licence"):
                counts[f"{kind} {ref}"] += 1
    return counts


def as_html(report: dict[str, Any]) -> str:
    """One self-contained page: verdict chart, top reasons, top rights records, violations."""
    counts = report["counts"]
    verdict_rows = [
        (v, int(counts.get(v, 0)), VERDICT_COLOURS[v]) for v in ("consent", "violation", "unknown")
    ]
    reason_rows = [(r, n, "#455a64") for r, n in list(report["reasons"].items())[:10]]
    holder_rows = [(h, n, "#6a1b9a") for h, n in _holders(report).most_common(10)]
    violations = [i for i in report["items"] if i["verdict"] != "consent"]
    rows = "".join(
        f'<tr class="{html.escape(i["verdict"])}"><td>{html.escape(str(i["id"]))}</td>'
        f"<td>{html.escape(i['verdict'])}</td><td>{html.escape(', '.join(i['reasons']))}</td>"
        f"<td>{i['index']}</td><td>{html.escape(i.get('url', ''))}</td></tr>"
        for i in violations
    )
    checkpoint = report.get("checkpoint") or ""
    title = f"Consentry report — {report['manifest_id']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#212121;max-width:1100px}}
h1{{font-size:1.4rem}} figure{{margin:1rem 0}} figcaption{{font-weight:600;margin-bottom:.3rem}}
.summary span{{display:inline-block;margin-right:1.5rem;font-size:1.1rem}}
table{{border-collapse:collapse;width:100%;font-size:.85rem}}
td,th{{border-bottom:1px solid #ddd;padding:4px;text-align:left}}
tr.violation td:nth-child(2){{color:#c62828}} tr.unknown td:nth-child(2){{color:#f9a825}}
pre{{background:#f5f5f5;padding:.5rem;overflow-x:auto;font-size:.75rem}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="summary"><span id="ledgered">{report["ledgered"]} items in the ledger</span>
{"".join(f'<span class="count-{v}">{n} {v}</span>' for v, n, _ in verdict_rows)}</p>
{_bars("Verdicts", verdict_rows)}
{_bars("Top reasons", reason_rows)}
{_bars("Top rights records deciding items", holder_rows)}
<h2>Violations and unknowns ({len(violations)})</h2>
<table id="violations"><thead><tr><th>item</th><th>verdict</th><th>reasons</th><th>ledger index</th>
<th>url</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>Checkpoint</h2><p>Each violation's evidence is in its ledger entry; verify it offline with
<code>consentry ledger verify</code> against this signed checkpoint.</p><pre>{html.escape(checkpoint)}</pre>
</body></html>
"""
