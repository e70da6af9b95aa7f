"""Spawning's ai.txt: the generator's forms, globs, precedence and bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import AI_PURPOSES, AiTxt, read_ai_txt

SITE = "https://art.example"

# The shape Spawning's generator writes.
GENERATED = """# Spawning AI
# Prevent datasets from using the following file types

User-Agent: *
Disallow: *.jpg
Disallow: *.jpeg
Disallow: *.png
Disallow: *.gif
Disallow: *.mp3
"""


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/gallery/cat.jpg", "reserved"),
        ("/gallery/CAT.JPG", "reserved"),  # file types ignore case
        ("/cat.png?size=large", "reserved"),  # the query is not part of the file name
        ("/gallery/song.mp3", "reserved"),
        ("/essay.txt", "not-reserved"),
        ("/cat.jpg.txt", "not-reserved"),  # globs are anchored at the end
        ("/", "not-reserved"),
    ],
)
def test_generated_file(path: str, status: str) -> None:
    reading = read_ai_txt(GENERATED, SITE + path, source=f"{SITE}/ai.txt")
    assert reading.status == status
    assert reading.purposes == AI_PURPOSES
    assert reading.signal == "ai.txt"
    assert reading.source == f"{SITE}/ai.txt"


@pytest.mark.parametrize("rule", ["Disallow: /", "Disallow: *", "disallow:*"])
def test_everything_disallowed(rule: str) -> None:
    assert read_ai_txt(f"User-Agent: *\n{rule}\n", f"{SITE}/a/b.txt").status == "reserved"


@pytest.mark.parametrize(
    ("body", "path", "status"),
    [
        ("User-Agent: *\nDisallow: /\nAllow: *.txt\n", "/a/b.txt", "not-reserved"),  # longer pattern wins
        ("User-Agent: *\nDisallow: *.txt\nAllow: /\n", "/a/b.txt", "reserved"),
        ("User-Agent: *\nDisallow: /private/\n", "/private/x.png", "reserved"),
        ("User-Agent: *\nDisallow: /private/\n", "/public/x.png", "not-reserved"),
        ("User-Agent: *\nDisallow: photo.jpg\n", "/x/photo.jpg", "reserved"),
        ("User-Agent: *\nDisallow: photo.jpg\n", "/x/myphoto.jpg", "not-reserved"),
        ("User-Agent: *\nDisallow: *.jpg$\n", "/x.jpg", "reserved"),
        ("User-Agent: *\nDisallow: *.jpé\n", "/x.jp%C3%A9", "reserved"),
        ("User-Agent: *\nDisallow: *.jpé\n", "/x.jpé", "reserved"),
        ("User-Agent: other\nDisallow: /\n", "/x", "unset"),
        ("", "/x", "unset"),
        ("<html>404</html>", "/x", "unset"),
    ],
)
def test_rules(body: str, path: str, status: str) -> None:
    assert read_ai_txt(body, SITE + path).status == status


def test_the_platform_group_replaces_the_star_group() -> None:
    body = "User-Agent: *\nDisallow: /\n\nUser-Agent: acme-ai\nAllow: /\n"
    parsed = AiTxt.parse(body)
    assert parsed.evaluate(f"{SITE}/x", platform_token="ACME-AI").status == "not-reserved"
    assert parsed.evaluate(f"{SITE}/x", platform_token="other").status == "reserved"
    assert parsed.evaluate(f"{SITE}/x").status == "reserved"


@given(st.one_of(st.text(), st.binary()), st.text().map(lambda s: "/" + s))
def test_arbitrary_bodies(body: str | bytes, path: str) -> None:
    reading = read_ai_txt(body, SITE + path)
    text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body).lower()
    if reading.status == "not-reserved":
        assert "user-agent" in text or "useragent" in text
