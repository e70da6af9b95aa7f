"""robots.txt: RFC 9309's examples, the AI-token decision table, Content-Usage/Content-Signal, License."""

from __future__ import annotations

import urllib.robotparser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import (
    AI_USER_AGENTS,
    ALL_PURPOSES,
    TRAINING_PURPOSES,
    RobotsTxt,
    SignalReading,
    combine,
    read_robots,
    robots_unavailable,
)

SITE = "https://www.example.com"
SOURCE = f"{SITE}/robots.txt"

# RFC 9309 §5.1, the example file.
RFC_EXAMPLE = """User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot

EOF
"""


def allowed(body: str, token: str, path: str) -> bool:
    return RobotsTxt.parse(body).is_allowed(SITE + path, token)


@pytest.mark.parametrize(
    ("token", "path", "expected"),
    [
        ("foobot", "/example/page.html", True),
        ("foobot", "/example/allowed.gif", True),
        ("foobot", "/example/other.html", False),
        ("foobot", "/", False),
        ("FooBot", "/publications/x", False),  # product tokens match case-insensitively
        ("barbot", "/example/page.html", False),
        ("bazbot", "/example/page.html", False),
        ("barbot", "/example/other.html", True),  # a named group replaces the * group entirely
        ("barbot", "/a.gif", True),
        ("quxbot", "/example/page.html", True),  # an empty group: no rules apply
        ("otherbot", "/a/b.gif", False),
        ("otherbot", "/a/b.gif?x", True),  # "$" anchors the end
        ("otherbot", "/example/x", False),
        ("otherbot", "/publications/x", True),
        ("otherbot", "/elsewhere", True),
    ],
)
def test_rfc_9309_example_file(token: str, path: str, expected: bool) -> None:
    assert allowed(RFC_EXAMPLE, token, path) is expected


def test_rfc_9309_longest_match() -> None:
    body = "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n"
    assert not allowed(body, "foobot", "/example/page/disallowed.gif")
    assert allowed(body, "foobot", "/example/page/other.gif")


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        # §2.2.2: an Allow wins a tie with an equivalent Disallow
        ("User-agent: *\nDisallow: /page\nAllow: /page\n", "/page", True),
        ("User-agent: *\nAllow: /page\nDisallow: /page\n", "/page", True),
        # §2.2.2: an empty Disallow is no rule
        ("User-agent: *\nDisallow:\n", "/anything", True),
        # §2.2.3: special characters
        ("User-agent: *\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n", "/foo/bar/quz", False),
        ("User-agent: *\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n", "/foo/quz", True),
        ("User-agent: *\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n", "/foo/bar", False),
        ("User-agent: *\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n", "/foo/bar/qux", True),
        ("User-agent: *\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n", "/foo/bar/", True),
        ("User-agent: *\nDisallow: /path/file-with-a-%2A.html\n", "/path/file-with-a-*.html", False),
        ("User-agent: *\nDisallow: /path/file-with-a-%2A.html\n", "/path/file-with-a-b.html", True),
        ("User-agent: *\nDisallow: /path/foo-%24\n", "/path/foo-$", False),
        ("User-agent: *\nDisallow: /price$list\n", "/price$list", False),
        # §2.2.2: percent-encoding is normalised on both sides
        ("User-agent: *\nDisallow: /\nAllow: /foo/bar/ツ\n", "/foo/bar/%E3%83%84", True),
        ("User-agent: *\nDisallow: /\nAllow: /foo/bar/ツ\n", "/foo/bar/ツ", True),
        ("User-agent: *\nDisallow: /\nAllow: /foo/bar/%E3%83%84\n", "/foo/bar/ツ", True),
        ("User-agent: *\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n", "/foo/bar/baz", True),
        ("User-agent: *\nDisallow: /a%2Fb\n", "/a/b", True),
        ("User-agent: *\nDisallow: /a%2fb\n", "/a%2Fb", False),
        (
            "User-agent: *\nDisallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n",
            "/foo/bar?qux=taz&baz=http://foo.bar?tar&par",
            True,
        ),
        # a pattern without its leading "/" is read with it
        ("User-agent: *\nDisallow: private/\n", "/private/x", False),
        # paths are case-sensitive
        ("User-agent: *\nDisallow: /X/\n", "/x/y", True),
        # /robots.txt is always allowed
        ("User-agent: *\nDisallow: /\n", "/robots.txt", True),
        # rules outside a group are ignored
        ("Disallow: /\nUser-agent: *\nAllow: /x\n", "/y", True),
        # comments, blanks, CRLF, a BOM, other records
        ("\ufeffUser-agent: * # all\r\n\r\nSitemap: /s.xml\r\nDisallow: /p # private\r\n", "/p/1", False),
    ],
)
def test_matching_rules(body: str, path: str, expected: bool) -> None:
    assert allowed(body, "somebot", path) is expected


def test_groups_naming_the_same_token_are_merged() -> None:
    body = "User-agent: a\nDisallow: /x\n\nUser-agent: b\nDisallow: /\n\nUser-agent: A\nDisallow: /y\n"
    assert not allowed(body, "a", "/x")
    assert not allowed(body, "a", "/y")
    assert allowed(body, "a", "/z")


@pytest.mark.parametrize(
    "line", ["User-agent: GPTBot/1.0", "user-agent:gptbot", "USER-AGENT:  GPTBOT  # OpenAI"]
)
def test_the_product_token_is_the_value_up_to_a_slash_or_blank(line: str) -> None:
    assert not allowed(f"{line}\nDisallow: /\n", "GPTBot", "/x")


def test_digits_in_a_token_are_kept() -> None:
    body = "User-agent: img2dataset\nDisallow: /\n\nUser-agent: img\nAllow: /\n"
    assert not allowed(body, "img2dataset", "/x")


def test_no_file_or_no_group_means_no_rules() -> None:
    assert allowed("", "GPTBot", "/x")
    assert allowed("User-agent: otherbot\nDisallow: /\n", "GPTBot", "/x")


def test_agrees_with_urllib_robotparser_where_first_and_longest_match_agree() -> None:
    body = "User-agent: GPTBot\nAllow: /private/ok\nDisallow: /private/\n\nUser-agent: *\nDisallow: /tmp/\n"
    reference = urllib.robotparser.RobotFileParser()
    reference.parse(body.splitlines())
    parsed = RobotsTxt.parse(body)
    for token in ("GPTBot", "CCBot"):
        for path in ("/private/x", "/private/ok", "/tmp/x", "/public"):
            assert parsed.is_allowed(SITE + path, token) is reference.can_fetch(token, SITE + path), (
                token,
                path,
            )


def test_longest_match_where_urllib_robotparser_takes_the_first() -> None:
    body = "User-agent: GPTBot\nDisallow: /private/\nAllow: /private/ok\n"
    reference = urllib.robotparser.RobotFileParser()
    reference.parse(body.splitlines())
    assert not reference.can_fetch("GPTBot", f"{SITE}/private/ok")  # first match
    assert RobotsTxt.parse(body).is_allowed(f"{SITE}/private/ok", "GPTBot")  # RFC 9309: longest match


# --- the AI-token decision table --------------------------------------------------------------------


def statuses(readings: tuple[SignalReading, ...]) -> dict[str, str]:
    combined = combine(readings)
    return {purpose: combined.status(purpose) for purpose in sorted(ALL_PURPOSES)}


def test_the_ai_tokens_and_their_purposes() -> None:
    assert set(AI_USER_AGENTS) == {
        "GPTBot",
        "Google-Extended",
        "CCBot",
        "ClaudeBot",
        "Applebot-Extended",
        "Bytespider",
        "img2dataset",
    }
    assert AI_USER_AGENTS["GPTBot"] == TRAINING_PURPOSES
    assert "ai-inference" in AI_USER_AGENTS["Google-Extended"]


@pytest.mark.parametrize("token", sorted(AI_USER_AGENTS))
def test_disallowing_an_ai_crawler_reserves_its_purposes(token: str) -> None:
    report = read_robots(f"User-agent: {token}\nDisallow: /\n", f"{SITE}/a.jpg", platform_token="acme-ai")
    reserved = {purpose for purpose, status in statuses(report.readings).items() if status == "reserved"}
    assert reserved == AI_USER_AGENTS[token]
    deciding = combine(report.readings).deciding("ai-training")
    assert deciding[0].raw == "Disallow: /"
    assert deciding[0].detail is not None
    assert token in deciding[0].detail


def test_the_platform_token_stands_for_every_purpose() -> None:
    report = read_robots(
        "User-agent: acme-ai\nDisallow: /\n", f"{SITE}/x", platform_token="ACME-AI", agents={}
    )
    assert set(statuses(report.readings).values()) == {"reserved"}


def test_a_site_wide_disallow_reserves_everything_for_everyone() -> None:
    report = read_robots("User-agent: *\nDisallow: /\n", f"{SITE}/x", platform_token="acme-ai")
    assert set(statuses(report.readings).values()) == {"reserved"}
    assert len([r for r in report.readings if r.signal == "robots.txt"]) == 1  # one shared reading


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("User-agent: *\nAllow: /\n", "not-reserved"),
        ("User-agent: *\nDisallow: /private/\n", "not-reserved"),
        ("User-agent: otherbot\nDisallow: /\n", "unset"),
        ("", "unset"),
        ("<html>Not found</html>", "unset"),
    ],
)
def test_allowed_or_no_group(body: str, expected: str) -> None:
    report = read_robots(body, f"{SITE}/x", platform_token="acme-ai")
    assert set(statuses(report.readings).values()) == {expected}


def test_readings_name_their_source() -> None:
    report = read_robots("User-agent: *\nDisallow: /\n", f"{SITE}/x", source=SOURCE)
    assert {reading.source for reading in report.readings} == {SOURCE}


# --- Content-Usage (draft-ietf-aipref-attach) --------------------------------------------------------

ATTACH_EXAMPLE = """User-Agent: *
Allow: /
Disallow: /never/
Content-Usage: / train-ai=n
Content-Usage: /ai-ok/ train-ai=y

User-Agent: ExampleBot
Allow: /
Content-Usage: / train-ai=y
"""


@pytest.mark.parametrize(
    ("path", "crawl", "usage"),
    [
        ("/test", "not-reserved", "reserved"),
        ("/never/test", "reserved", None),
        ("/ai-ok/test", "not-reserved", "not-reserved"),
    ],
)
def test_the_attach_draft_example_table(path: str, crawl: str, usage: str | None) -> None:
    report = RobotsTxt.parse(ATTACH_EXAMPLE).evaluate(SITE + path, platform_token="somebot", agents={})
    robots = [r for r in report.readings if r.signal == "robots.txt"]
    content_usage = [r for r in report.readings if r.signal == "robots.content-usage"]
    assert [r.status for r in robots] == [crawl]
    assert [r.status for r in content_usage] == ([usage] if usage else [])
    if usage:
        assert content_usage[0].purposes == TRAINING_PURPOSES


def test_example_bot_uses_its_own_group() -> None:
    report = RobotsTxt.parse(ATTACH_EXAMPLE).evaluate(f"{SITE}/test", platform_token="ExampleBot", agents={})
    assert statuses(report.readings)["ai-training"] == "not-reserved"


def test_ai_crawler_groups_count_for_usage_too() -> None:
    body = "User-agent: *\nAllow: /\n\nUser-agent: CCBot\nAllow: /\nContent-Usage: / train-ai=n\n"
    report = read_robots(body, f"{SITE}/x", platform_token="acme-ai")
    assert statuses(report.readings)["ai-generative-training"] == "reserved"


def test_identical_paths_with_conflicting_preferences_combine_restrictively() -> None:
    body = "User-agent: *\nContent-Usage: /a train-ai=y\nContent-Usage: /a train-ai=n, search=y\n"
    result = statuses(read_robots(body, f"{SITE}/a/1", agents={}).readings)
    assert result["ai-training"] == "reserved"
    assert result["search"] == "not-reserved"


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("Content-Usage: / train-ai=n,", "unknown"),  # not a Dictionary
        ("Content-Usage: / TRAIN-AI=n", "unknown"),  # keys are lower-case
        ("Content-Usage: /", "unknown"),  # no preference
        ('Content-Usage: / train-ai="n"', "unknown"),
        ("Content-Usage: train-ai=n", "reserved"),  # the -00 form, without a path
        ("Content-Usage:\t/\ttrain-ai=n", "reserved"),
        ("Content-Usage: / foo=n", "unset"),  # unknown labels are ignored
    ],
)
def test_content_usage_lines(line: str, status: str) -> None:
    report = read_robots(f"User-agent: *\n{line}\n", f"{SITE}/x", agents={})
    (reading,) = [r for r in report.readings if r.signal == "robots.content-usage"]
    assert reading.status == status


def test_site_wide_usage_lines_before_any_group_apply_to_everyone() -> None:
    report = read_robots("Content-Usage: / train-ai=n\n\nUser-agent: *\nAllow: /\n", f"{SITE}/x", agents={})
    assert statuses(report.readings)["ai-training"] == "reserved"
    report = read_robots("Content-Signal: ai-train=no\n", f"{SITE}/x", agents={})
    assert statuses(report.readings)["ai-training"] == "reserved"


# --- Content-Signal (Cloudflare) ---------------------------------------------------------------------


def test_cloudflare_managed_default() -> None:
    body = "User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"
    result = statuses(read_robots(body, f"{SITE}/x", platform_token="acme-ai").readings)
    assert result == {
        "ai-generative-training": "reserved",
        "ai-inference": "not-reserved",  # from Allow: / (Content-Signal says nothing about ai-input)
        "ai-training": "reserved",
        "search": "not-reserved",
    }


@pytest.mark.parametrize(
    ("value", "purpose", "status"),
    [
        ("ai-input=no", "ai-inference", "reserved"),
        ("ai-input=yes", "ai-inference", "not-reserved"),
        ("search=no", "search", "reserved"),
        ("ai-train=maybe", "ai-training", "unknown"),
        ("AI-Train=NO", "ai-training", "reserved"),
        ("ai-train=yes, ai-train=no", "ai-training", "reserved"),
        ("use=reference", "ai-training", None),
    ],
)
def test_content_signal_values(value: str, purpose: str, status: str | None) -> None:
    report = read_robots(f"User-agent: *\nContent-Signal: {value}\n", f"{SITE}/x", agents={})
    signals = [r for r in report.readings if r.signal == "robots.content-signal" and purpose in r.purposes]
    if status is None:
        assert all(r.status == "unset" for r in signals)
    else:
        assert [r.status for r in signals] == [status]


def test_a_content_signal_can_be_scoped_to_a_path() -> None:
    body = "User-agent: *\nContent-Signal: /blog/ ai-train=no\nAllow: /\n"
    assert statuses(read_robots(body, f"{SITE}/blog/post", agents={}).readings)["ai-training"] == "reserved"
    about = read_robots(body, f"{SITE}/about", agents={}).readings
    assert [r.signal for r in about] == ["robots.txt"]


def test_a_content_signal_for_another_crawler_does_not_apply() -> None:
    body = "User-agent: googlebot\nContent-Signal: ai-train=no\n\nUser-agent: *\nAllow: /\n"
    assert statuses(read_robots(body, f"{SITE}/x", platform_token="acme-ai", agents={}).readings)[
        "ai-training"
    ] == ("not-reserved")


# --- License (RSL) ------------------------------------------------------------------------------------


def test_license_lines_are_returned_resolved() -> None:
    body = "License: /license.xml\n\nUser-agent: *\nAllow: /\n\nUser-agent: GPTBot\nLicense: https://l.example/ai.xml\n"
    report = read_robots(body, f"{SITE}/x", platform_token="acme-ai", source=SOURCE)
    assert report.licences == (f"{SITE}/license.xml", "https://l.example/ai.xml")
    report = read_robots(body, f"{SITE}/x", platform_token="acme-ai", source=SOURCE, agents={})
    assert report.licences == (f"{SITE}/license.xml",)


# --- fetch failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (404, "unset"),
        (410, "unset"),
        (401, "unset"),
        (429, "unknown"),
        (500, "unknown"),
        (503, "unknown"),
        (None, "unknown"),
    ],
)
def test_unavailable_versus_unreachable(status_code: int | None, expected: str) -> None:
    (reading,) = robots_unavailable(status_code, source=SOURCE, error="timeout").readings
    assert reading.status == expected
    assert reading.purposes == ALL_PURPOSES


# --- never raises, never permits by accident ---------------------------------------------------------


@given(st.one_of(st.text(), st.binary()), st.text(min_size=1).map(lambda s: "/" + s))
def test_arbitrary_bodies(body: str | bytes, path: str) -> None:
    report = read_robots(body, SITE + path, platform_token="acme-ai")
    text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body).lower()
    for reading in report.readings:
        if reading.status == "not-reserved":
            assert "user-agent" in text or "useragent" in text or "user agent" in text or "content-" in text


lines = st.sampled_from(
    [
        "User-agent: *",
        "User-agent: GPTBot",
        "User-agent: acme-ai",
        "Disallow: /",
        "Disallow: /a",
        "Allow: /a/b",
        "Disallow: *.jpg$",
        "Allow: /a$",
        "Content-Usage: / train-ai=n",
        "Content-Signal: ai-train=yes",
        "",
        "# x",
    ]
)


@given(st.lists(lines, max_size=12), st.sampled_from(["/", "/a", "/a/b", "/a/b.jpg", "/c.jpg"]))
def test_structured_bodies_agree_with_is_allowed(body_lines: list[str], path: str) -> None:
    body = "\n".join(body_lines)
    parsed = RobotsTxt.parse(body)
    report = parsed.evaluate(SITE + path, platform_token="acme-ai", agents={})
    (crawl,) = [r for r in report.readings if r.signal == "robots.txt"]
    if crawl.status == "reserved":
        assert not parsed.is_allowed(SITE + path, "acme-ai")
    else:
        assert parsed.is_allowed(SITE + path, "acme-ai")
