"""Hugging Face dataset cards: the licence in the YAML front matter, given to the items of its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentry_ingest.domain import LineError, RawItem
from consentry_ingest.domain.formats import (
    CardLicence,
    DataFiles,
    apply_card_licence,
    licence_from_hf,
    read_hf_card,
)

CARD = Path(__file__).parent / "data" / "formats" / "hf-dataset-card.md"


def card(header: str) -> CardLicence | list[LineError]:
    return read_hf_card(f"---\n{header}---\n# Card\n".encode())


def test_a_real_shaped_card() -> None:
    found = read_hf_card(CARD.read_bytes())
    assert found == CardLicence(
        license="LicenseRef-acme-research-data-licence",
        hf_license=("other",),
        license_name="acme-research-data-licence",
        license_link="LICENSE.md",
        data_files=(
            DataFiles("default", "train", ("data/train-*",)),
            DataFiles("default", "validation", ("data/validation-*.parquet", "extra/**/validation.csv")),
            DataFiles("captions-only", None, ("captions/*.jsonl",)),
        ),
    )


@pytest.mark.parametrize(
    ("path", "covered"),
    [
        ("data/train-00000-of-00002.parquet", True),
        ("./data/train-00001-of-00002.parquet", True),
        ("data/validation-00000-of-00001.parquet", True),
        ("data/validation-00000-of-00001.csv", False),
        ("extra/validation.csv", True),
        ("extra/a/b/validation.csv", True),
        ("captions/part-1.jsonl", True),
        ("captions/sub/part-1.jsonl", False),
        ("data/sub/train-0.parquet", False),
        ("README.md", False),
    ],
)
def test_which_files_the_card_describes(path: str, covered: bool) -> None:
    found = read_hf_card(CARD.read_bytes())
    assert isinstance(found, CardLicence)
    assert found.covers(path) is covered


def test_a_config_given_by_its_directory_covers_the_files_below_it() -> None:
    """``data_dir`` instead of ``data_files`` (multilingual cards: one config per language)."""
    found = card(
        "license: cc-by-sa-4.0\nconfigs:\n- config_name: en\n  data_dir: data/en\n"
        "- config_name: fr\n  data_dir: data/fr/\n"
    )
    assert isinstance(found, CardLicence)
    assert found.data_files == (
        DataFiles("en", None, ("data/en/**",)),
        DataFiles("fr", None, ("data/fr/**",)),
    )
    assert found.covers("data/fr/train/0000.parquet")
    assert not found.covers("data/de/train/0000.parquet")
    assert not found.covers("data/english.csv")


def test_a_card_without_configs_describes_every_file() -> None:
    found = card("license: cc-by-4.0\n")
    assert isinstance(found, CardLicence)
    assert (found.license, found.covers("anything/at/all.parquet")) == ("CC-BY-4.0", True)


def test_the_licence_goes_to_items_without_their_own() -> None:
    found = read_hf_card(CARD.read_bytes())
    assert isinstance(found, CardLicence)
    batch = [
        RawItem(1, "a", "https://x.org/a"),
        RawItem(2, "b", "https://x.org/b", license="CC0-1.0"),
        LineError(3, "url", "missing url"),
    ]
    applied = apply_card_licence(batch, found, "data/train-00000-of-00002.parquet")
    first = applied[0]
    assert isinstance(first, RawItem)
    assert first.license == "LicenseRef-acme-research-data-licence"
    assert dict(first.extra) == {
        "license_source": "hf-card",
        "hf_license": "other",
        "license_link": "LICENSE.md",
    }
    assert applied[1:] == batch[1:]
    assert apply_card_licence(batch, found, "other/file.parquet") == batch
    assert apply_card_licence(batch, found)[0] == first


def test_a_card_declaring_no_licence_changes_nothing() -> None:
    found = card("pretty_name: x\n")
    assert found == CardLicence(license=None)
    assert isinstance(found, CardLicence)
    item = RawItem(1, "a", "https://x.org/a")
    assert found.apply(item) is item


@pytest.mark.parametrize(
    ("ids", "name", "expected"),
    [
        (["cc-by-4.0"], None, "CC-BY-4.0"),
        (["apache-2.0"], None, "Apache-2.0"),
        (["CC-BY-NC-SA-4.0"], None, "CC-BY-NC-SA-4.0"),
        (["gpl-3.0"], None, "GPL-3.0-only"),
        (["odc-by"], None, "ODC-By-1.0"),
        (["unknown"], None, None),
        (["other"], "My Licence v2", "LicenseRef-My-Licence-v2"),
        (["other"], None, "LicenseRef-hf-other"),
        (["openrail"], None, "LicenseRef-hf-openrail"),
        (["llama3.1"], None, "LicenseRef-hf-llama3.1"),
        (["mit", "cc-by-sa-4.0"], None, "MIT AND CC-BY-SA-4.0"),
        (["mit", "unknown"], None, "MIT"),
        ([], None, None),
    ],
)
def test_hub_licence_ids_map_to_spdx(ids: list[str], name: str | None, expected: str | None) -> None:
    assert licence_from_hf(ids, name) == expected


def test_a_list_of_licences_in_the_card() -> None:
    found = card("license:\n- mit\n- apache-2.0\nlicense_link: https://x.org/l\n")
    assert isinstance(found, CardLicence)
    assert (found.license, found.hf_license, found.license_link) == (
        "MIT AND Apache-2.0",
        ("mit", "apache-2.0"),
        "https://x.org/l",
    )


@pytest.mark.parametrize(
    ("data", "line", "field", "message"),
    [
        (b"# Title\nlicense: mit\n", 1, None, "no YAML front matter"),
        (b"---\nlicense: mit\n", 1, None, "no closing '---'"),
        (b"---\nlicense: mit\n  bad: : x\n---\n", 3, None, "invalid YAML"),
        (b"---\n- a\n- b\n---\n", 2, None, "must be a YAML mapping"),
        (b"---\npretty_name: x\nlicense: {a: 1}\n---\n", 3, "license", "Hub licence id"),
        (b"---\nlicense_name: [a]\n---\n", 2, "license_name", "must be a string"),
        (b"---\nconfigs: {a: 1}\n---\n", 2, "configs", "must be a list"),
        (b"---\nconfigs:\n- 3\n---\n", 3, "configs[0]", "must be a mapping"),
        (
            b"---\nconfigs:\n- config_name: d\n  data_files: 5\n---\n",
            3,
            "configs[0].data_files",
            "must be a pattern",
        ),
        (
            b"---\nconfigs:\n- data_files:\n  - split: t\n---\n",
            3,
            "configs[0].data_files[0].path",
            "glob pattern",
        ),
        (b"---\nconfigs:\n- data_files:\n  - 7\n---\n", 3, "configs[0].data_files[0]", "{split, path}"),
        (b"---\nlicense: mit\n\xff\n---\n", 3, None, "not valid UTF-8"),
        (b"---\na: " + b"[" * 5000 + b"\n---\n", 2, None, "invalid YAML"),
    ],
)
def test_errors_name_the_card_line_and_key(data: bytes, line: int, field: str | None, message: str) -> None:
    found = read_hf_card(data)
    assert isinstance(found, list), found
    assert (found[0].line, found[0].field) == (line, field), found
    assert message in found[0].message


def test_yaml_aliases_are_not_expanded_and_patterns_are_capped() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(8)
    )
    assert isinstance(card(bomb + "license: mit\n"), CardLicence)
    many = "configs:\n- data_files: [" + ", ".join(["p"] * 10_001) + "]\n"
    found = card(many)
    assert found == [LineError(3, "configs[0].data_files", "more than 10000 data_files patterns")]
    nested = "p: &p [a, b]\nconfigs:\n- data_files: [" + ", ".join(["*p"] * 50) + "]\n"
    found = card(nested)
    assert isinstance(found, list)
    assert len(found) == 50
    assert all("a data_files entry must be" in e.message for e in found)


def test_a_bom_and_crlf_line_ends() -> None:
    found = read_hf_card(b"\xef\xbb\xbf---\r\nlicense: cc0-1.0\r\n---\r\n")
    assert isinstance(found, CardLicence)
    assert found.license == "CC0-1.0"
