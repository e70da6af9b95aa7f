"""The jurisdiction -> regime table: defaults, groups, overrides, settings, and its effect on decide()."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from consentry_rights.domain import DEFAULT_REGIMES, Policy, RegistryView, decide, regime_table
from consentry_rights.domain.regimes import EU_MEMBER_STATES, REGIME_GROUPS
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import ItemEvent, Purpose, Verdict

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def item(**overrides: Any) -> ItemEvent:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "manifest_id": "m1",
        "item_id": "i1",
        "line": 1,
        "platform": "acme-ai",
        "purpose": Purpose.AI_TRAINING,
        "url": "https://example.org/a.jpg",
        "submitted_at": AT,
    }
    fields.update(overrides)
    return ItemEvent.model_validate(fields)


def test_the_eu_has_27_member_states() -> None:
    assert len(EU_MEMBER_STATES) == 27
    assert {"DE", "FR", "GR", "IE", "HR"} <= EU_MEMBER_STATES
    assert not {"GB", "CH", "NO", "EL"} & EU_MEMBER_STATES
    assert REGIME_GROUPS["EEA"] == EU_MEMBER_STATES | {"IS", "LI", "NO"}


def test_by_default_eu_member_states_and_japan_opt_out_and_the_rest_opts_in() -> None:
    policy = Policy("p")
    assert dict(policy.regimes) == dict(DEFAULT_REGIMES)
    assert {code for code, regime in DEFAULT_REGIMES.items() if regime == "opt-out"} == EU_MEMBER_STATES | {
        "JP"
    }
    for code in ("DE", "fr", " IT ", "JP"):
        assert policy.regime_for(code) == "opt-out"
    for code in ("US", "GB", "CH", "NO", "CN"):
        assert policy.regime_for(code) == "opt-in"
    assert policy.regime_for(None) == "opt-in"


def test_the_default_regime_applies_outside_the_table() -> None:
    policy = Policy("p", regime="opt-out", regimes={"US": "opt-in"})
    assert (policy.regime_for("US"), policy.regime_for("BR"), policy.regime_for(None)) == (
        "opt-in",
        "opt-out",
        "opt-out",
    )


def test_a_country_named_on_its_own_beats_its_group() -> None:
    table = regime_table({"EU": "opt-out", "de": "opt-in"})
    assert table["DE"] == "opt-in"
    assert table["FR"] == "opt-out"
    assert regime_table({"de": "opt-in", "EU": "opt-out"})["DE"] == "opt-in"  # whatever the order


def test_groups_that_agree_combine_and_groups_that_disagree_are_refused() -> None:
    assert regime_table({"EU": "opt-out", "EEA": "opt-out"})["NO"] == "opt-out"
    with pytest.raises(ValueError, match="different regimes"):
        regime_table({"EU": "opt-in", "EEA": "opt-out"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"EU": "opt_out"}, "must be one of"),
        ({"DE": "allow"}, "must be one of"),
        ({"Europe": "opt-out"}, "ISO 3166"),
        ({"D1": "opt-out"}, "ISO 3166"),
        ({"": "opt-in"}, "ISO 3166"),
    ],
)
def test_a_bad_table_is_refused(spec: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy("p", regimes=spec)  # type: ignore[arg-type]


def test_the_regime_decides_an_unlicensed_item_by_its_territory() -> None:
    policy, view = Policy("p"), RegistryView()
    german = decide(item(territory="DE"), view, policy, AT)
    assert (german.verdict, german.reasons) == (Verdict.CONSENT, ("no-reservation",))
    assert german.evidence[-1].value == "opt-out;jurisdiction=DE"
    american = decide(item(territory="US"), view, policy, AT)
    assert (american.verdict, american.reasons) == (Verdict.VIOLATION, ("no-licence",))
    assert american.evidence[-1].value == "opt-in;jurisdiction=US"
    nowhere = decide(item(territory=None), view, policy, AT)
    assert (nowhere.verdict, nowhere.evidence[-1].value) == (Verdict.VIOLATION, "opt-in")


def test_a_web_reservation_binds_in_an_opt_out_jurisdiction() -> None:
    reserved = item(territory="FR", evidence={"headers": '{"tdm-reservation":["1"]}'})
    decision = decide(reserved, RegistryView(), Policy("p"), AT)
    assert (decision.verdict, decision.reasons) == (Verdict.VIOLATION, ("signal:tdmrep.header",))


def test_settings_read_the_table_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RightsSettings().regimes == {"EU": "opt-out", "JP": "opt-out"}
    monkeypatch.setenv("CONSENTRY_RIGHTS_REGIMES", '{"EU": "opt-out", "DE": "opt-in", "GB": "opt-out"}')
    monkeypatch.setenv("CONSENTRY_RIGHTS_REGIME", "opt-in")
    settings = RightsSettings()
    policy = settings.policy()
    assert (policy.regime_for("DE"), policy.regime_for("FR"), policy.regime_for("GB")) == (
        "opt-in",
        "opt-out",
        "opt-out",
    )
    assert policy.regime_for("JP") == "opt-in"  # the table replaces the default one
    assert policy.version == settings.policy_version


def test_settings_refuse_a_bad_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTRY_RIGHTS_REGIMES", '{"EU": "optout"}')
    with pytest.raises(ValueError, match="must be one of"):
        RightsSettings().policy()
