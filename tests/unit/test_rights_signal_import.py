"""Signal files turned into registry reservations: what each file reserves, where, and what it
cannot express (reported, never guessed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consentry_rights.domain.signal_import import (
    SignalFileError,
    canonical_origin,
    reservations_from_signal_file,
    signal_file_kind,
)

ORIGIN = "https://x.example"
AT = datetime(2026, 5, 1, tzinfo=UTC)
DIGEST = "ab" * 32


def scopes(kind: str, body: bytes) -> dict[str, list[str]]:
    found = reservations_from_signal_file(
        kind, body, origin=ORIGIN, holder="h", evidence_sha256=DIGEST, at=AT
    )
    return {str(r.match.url_prefix): list(r.purposes) for r in found.records}


def notes(kind: str, body: bytes) -> list[str]:
    return reservations_from_signal_file(
        kind, body, origin=ORIGIN, holder="h", evidence_sha256=DIGEST, at=AT
    ).notes


TRAINING = ["ai-generative-training", "ai-training"]


def test_robots_txt_disallow_for_ai_crawlers() -> None:
    body = b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n"
    assert scopes("robots.txt", body) == {
        f"{ORIGIN}/": TRAINING,  # GPTBot: training
        f"{ORIGIN}/private/": ["ai-all"],  # every AI crawler, Google-Extended's inference included
    }


def test_robots_txt_a_scope_covered_by_a_shorter_one_is_not_repeated() -> None:
    body = b"User-agent: *\nDisallow: /\nDisallow: /private/\n"
    assert scopes("robots.txt", body) == {f"{ORIGIN}/": ["ai-all"]}


def test_robots_txt_that_allows_everything_reserves_nothing() -> None:
    assert scopes("robots.txt", b"User-agent: *\nAllow: /\n") == {}
    assert scopes("robots.txt", b"") == {}


def test_robots_txt_content_usage_and_content_signal() -> None:
    assert scopes("robots.txt", b"User-agent: *\nContent-Usage: /news/ train-ai=n\n") == {
        f"{ORIGIN}/news/": TRAINING
    }
    assert scopes("robots.txt", b"Content-Signal: ai-train=no, search=yes\nUser-agent: *\nAllow: /\n") == {
        f"{ORIGIN}/": TRAINING
    }


def test_robots_txt_what_a_prefix_cannot_say_is_reported() -> None:
    body = (
        b"User-agent: *\nDisallow: /private/\nAllow: /private/pub/\nDisallow: /*.jpg$\n\n"
        b"User-agent: Googlebot\nDisallow: /nogoogle\n"
    )
    assert scopes("robots.txt", body) == {f"{ORIGIN}/private/": ["ai-all"]}
    said = "\n".join(notes("robots.txt", body))
    assert "'/*.jpg$' is not a URL prefix" in said
    assert "'Allow: /private/pub/' inside reserved '/private/'" in said
    assert "googlebot is not for an AI crawler" in said


def test_ai_txt() -> None:
    assert scopes("ai.txt", b"User-Agent: *\nDisallow: /\n") == {f"{ORIGIN}/": ["ai-all"]}
    assert scopes("ai.txt", b"User-Agent: *\nDisallow: *\n") == {f"{ORIGIN}/": ["ai-all"]}
    body = b"User-Agent: *\nDisallow: *.jpg\nDisallow: /art/\n"
    assert scopes("ai.txt", body) == {f"{ORIGIN}/art/": ["ai-all"]}
    assert any("'Disallow: *.jpg' names files" in note for note in notes("ai.txt", body))
    assert scopes("ai.txt", b"User-Agent: *\nAllow: *\n") == {}


def test_tdmrep_json_first_matching_rule_per_location() -> None:
    body = (
        b'[{"location": "/books/*", "tdm-reservation": 1, "tdm-policy": "https://x.example/p.json"},'
        b' {"location": "/free/*", "tdm-reservation": 0},'
        b' {"location": "/*.pdf", "tdm-reservation": 1},'
        b' {"location": "https://other.example/*", "tdm-reservation": 1},'
        b' {"tdm-reservation": 1}]'
    )
    assert scopes("tdmrep.json", body) == {f"{ORIGIN}/books/": ["all"]}
    said = "\n".join(notes("tdmrep.json", body))
    assert "'/*.pdf' is not a URL prefix" in said
    assert "on another host" in said
    assert "1 rule(s) without location" in said


def test_an_unreadable_tdmrep_json_is_an_error_not_an_empty_registry() -> None:
    with pytest.raises(SignalFileError, match="not JSON"):
        scopes("tdmrep.json", b"{broken")
    with pytest.raises(SignalFileError, match="unknown signal file"):
        scopes("humans.txt", b"")


def test_records_carry_id_holder_time_and_evidence() -> None:
    found = reservations_from_signal_file(
        "ai.txt", b"User-Agent: *\nDisallow: /\n", origin=ORIGIN, holder="h", evidence_sha256=DIGEST, at=AT
    )
    (record,) = found.records
    assert record.id == "ai.txt:https://x.example/"
    assert (record.holder, record.valid_from, record.valid_until, record.evidence_sha256) == (
        "h",
        AT,
        None,
        DIGEST,
    )


def test_a_newer_file_keeps_what_it_repeats_and_closes_what_it_drops() -> None:
    first = reservations_from_signal_file(
        "robots.txt",
        b"User-agent: *\nDisallow: /a/\nDisallow: /b/\n",
        origin=ORIGIN,
        holder="h",
        evidence_sha256=DIGEST,
        at=AT,
    ).records
    later = AT + timedelta(days=30)
    second = reservations_from_signal_file(
        "robots.txt",
        b"User-agent: *\nDisallow: /a/\nDisallow: /c/\n",
        origin=ORIGIN,
        holder="h",
        evidence_sha256="cd" * 32,
        at=later,
        previous=first,
    ).records
    by_id = {r.id.rsplit("/", 2)[-2]: r for r in second}
    assert (by_id["a"].valid_from, by_id["a"].valid_until) == (AT, None)  # repeated: in force since AT
    assert (by_id["b"].valid_from, by_id["b"].valid_until) == (AT, later)  # dropped: closed now
    assert (by_id["c"].valid_from, by_id["c"].valid_until) == (later, None)  # new
    assert {r.evidence_sha256 for r in second} == {"cd" * 32}


def test_signal_file_kind_and_origin() -> None:
    assert signal_file_kind("site/.well-known/tdmrep.json") == "tdmrep.json"
    assert signal_file_kind("ROBOTS.TXT") == "robots.txt"
    assert signal_file_kind("notes.txt") is None
    assert canonical_origin("HTTPS://X.Example:443/") == "https://x.example"
    assert canonical_origin("http://x.example:8080") == "http://x.example:8080"
    for bad in ("ftp://x.example", "https://x.example/path", "x.example", "https://x.example:99999"):
        with pytest.raises(SignalFileError):
            canonical_origin(bad)
