"""Live revocation streamed in pages: the service publishes exactly the flips that deciding every
touched item again one by one gives, remembers exactly those verdicts, and never remembers a
verdict whose decision was not published."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

import consentry_rights.service as service_module
from consentry_rights.adapters.store import DecidedItem, SqlRegistryStore
from consentry_rights.domain import Policy
from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.importing import RegistryRecord
from consentry_rights.domain.revocation import redecide, selectors_of
from consentry_rights.service import RightsService
from consentry_shared.contracts.v1 import Deal, DecisionEvent, ItemEvent, Reservation, Verdict, Work
from consentry_shared.kafka import KeyedBatchPublisher, OutRecord
from tests.service.fakes import FakeRegistryStore
from tests.unit.test_rights_decide_batch import (
    AT,
    PLATFORMS,
    POLICIES,
    PURPOSE_SETS,
    TIMES,
    WORK_LICENCES,
    build_item,
    match,
    work_identity,
)


class RecordingPublisher(KeyedBatchPublisher):
    """Keeps what is published; the ``fail_on``-th call (1-based) raises instead, once."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__(None, {})  # type: ignore[arg-type]  # no broker: publish is replaced
        self.sent: list[list[OutRecord]] = []
        self._fail_on = fail_on

    async def publish(
        self, topic: str, records: Sequence[OutRecord], *, headers: Mapping[str, str] | None = None
    ) -> None:
        if topic != "decisions.v1" or not records:
            return
        if self._fail_on is not None and len(self.sent) + 1 == self._fail_on:
            self._fail_on = None  # once
            raise RuntimeError("broker down")
        self.sent.append(list(records))


def random_records(rng: random.Random, prefix: str, size: int) -> list[RegistryRecord]:
    records: list[RegistryRecord] = []
    for n in range(size):
        kind = rng.choice(["reservation", "deal", "work"])
        if kind == "reservation":
            records.append(
                Reservation.model_validate(
                    {
                        "id": f"{prefix}r{n}",
                        "holder": "h",
                        "match": match(rng),
                        "purposes": rng.choice(PURPOSE_SETS),
                        "territories": rng.choice([["*"], ["DE"], ["US"]]),
                        "from": rng.choice(TIMES),
                        "until": rng.choice([None, *TIMES]),
                    }
                )
            )
        elif kind == "deal":
            valid_from = rng.choice(TIMES)
            records.append(
                Deal.model_validate(
                    {
                        "id": f"{prefix}d{n}",
                        "holder": "h",
                        "licensee": rng.choice(PLATFORMS),
                        "match": match(rng),
                        "purposes": rng.choice(PURPOSE_SETS),
                        "territories": rng.choice([["*"], ["DE"]]),
                        "from": valid_from,
                        "until": valid_from + timedelta(days=rng.choice([1, 300])),
                        "revoked_at": rng.choice([None, None, *TIMES]),
                    }
                )
            )
        else:
            records.append(
                Work.model_validate(
                    {
                        "id": f"{prefix}w{n}",
                        "holder": "h",
                        **work_identity(rng),
                        "license": rng.choice(WORK_LICENCES),
                    }
                )
            )
    return records


async def remembered_service(
    rng: random.Random, store: FakeRegistryStore, publisher: RecordingPublisher, policy: Policy
) -> tuple[RightsService, dict[str, DecidedItem]]:
    """A service whose store remembers 400 items decided under a first import."""
    service = RightsService(
        store, publisher, policy, topic_of=lambda name: name, tracer=trace.get_tracer("test")
    )
    await service.import_records(random_records(rng, "base-", 12))
    items = [build_item(rng, n) for n in range(400)]
    decisions = decide_batch(items, service._view, policy, AT)
    remembered = {
        item.event_id: DecidedItem(item, decision.verdict, f"first-{item.event_id}")
        for item, decision in zip(items, decisions, strict=True)
    }
    await store.remember_decisions(list(remembered.values()))
    return service, remembered


@pytest.mark.parametrize("seed", range(1, 9))
async def test_pages_publish_and_remember_exactly_the_one_by_one_flips(
    seed: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(service_module, "utc_now", lambda: AT)
    monkeypatch.setattr(service_module, "_REEVALUATION_PAGE", 7)
    rng = random.Random(seed)
    policy = rng.choice(POLICIES)
    store, publisher = FakeRegistryStore(), RecordingPublisher()
    service, before = await remembered_service(rng, store, publisher, policy)
    change = random_records(rng, "change-", 6)

    await service.import_records(change)

    selectors = selectors_of(change)
    touched = {e: d for e, d in before.items() if selectors.covers(d.item, d.host)}
    want = {}
    for event_id, decided in touched.items():
        flip = redecide(decided.item, decided.verdict, service._view, policy, AT)
        if flip is not None:
            want[event_id] = (flip.verdict, list(flip.reasons), list(flip.evidence))
    published = [DecisionEvent.model_validate_json(r.value) for page in publisher.sent for r in page]
    got = {e.item_event_id: (e.verdict, e.reasons, e.evidence) for e in published}
    assert len(published) == len(got)  # one decision per flipped item
    assert got == want
    assert 0 < len(want) < len(touched)  # not vacuous: these seeds flip some touched items, not all
    assert service.last_reevaluation == (len(touched), len(want))
    assert all(0 < len(page) <= 7 for page in publisher.sent)
    after = {d.item.event_id: d for d in await store.decided_items(selectors_of(change))}
    for event_id, decided in before.items():
        if event_id in want:
            assert after[event_id].verdict == want[event_id][0]
            assert after[event_id].decision_event_id == next(
                e.event_id for e in published if e.item_event_id == event_id
            )
        elif event_id in after:
            assert (after[event_id].verdict, after[event_id].decision_event_id) == (
                decided.verdict,
                decided.decision_event_id,
            )
    # Deciding the same change again flips nothing: every flip was remembered.
    publisher.sent.clear()
    assert (await service.reevaluate(change))[1] == 0


@pytest.mark.parametrize("in_flight", [1, 4])
async def test_a_failed_publish_leaves_its_page_unremembered(
    monkeypatch: pytest.MonkeyPatch, in_flight: int
) -> None:
    monkeypatch.setattr(service_module, "utc_now", lambda: AT)
    monkeypatch.setattr(service_module, "_REEVALUATION_PAGE", 5)
    monkeypatch.setattr(service_module, "_REEVALUATION_IN_FLIGHT", in_flight)
    store, publisher = FakeRegistryStore(), RecordingPublisher(fail_on=2)
    service = RightsService(
        store, publisher, POLICIES[0], topic_of=lambda name: name, tracer=trace.get_tracer("test")
    )
    items = [
        ItemEvent.model_validate(
            {
                **build_item(random.Random(n), n).model_dump(),
                "url": f"https://gone.example/{n}",
                "evidence": {},
            }
        )
        for n in range(20)
    ]
    await store.remember_decisions([DecidedItem(i, Verdict.CONSENT, f"first-{i.event_id}") for i in items])
    revoke: Any = Reservation.model_validate(
        {
            "id": "r-gone",
            "holder": "h",
            "match": {"domain": "gone.example"},
            "purposes": ["all"],
            "from": TIMES[0],
        }
    )
    with pytest.raises(RuntimeError, match="broker down"):
        await service.import_records([revoke])
    published = {
        DecisionEvent.model_validate_json(r.value).item_event_id for page in publisher.sent for r in page
    }
    assert 5 <= len(published) <= 15  # the first page went out, the second did not
    after = {d.item.event_id: d.verdict for d in await store.decided_items(selectors_of([revoke]))}
    # Remembered as revoked: exactly the published ones; the others wait, still consent, for the
    # next change (or a retry of this import) to decide them again.
    assert {e for e, v in after.items() if v is Verdict.VIOLATION} == published
    assert sum(v is Verdict.CONSENT for v in after.values()) == 20 - len(published)
    assert (await service.reevaluate([revoke])) == (20, 20 - len(published))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlRegistryStore]:
    url = (
        f"sqlite:///{tmp_path / 'rights.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_database_url")
    )
    store = SqlRegistryStore.from_url(url)
    await store.initialise()
    yield store
    await store.close()


async def test_a_failure_mid_stream_closes_the_stream_and_a_retry_finishes(
    sql_store: SqlRegistryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a real database the next page is being read when a publish fails: the stream must still
    # close cleanly (the read-ahead first), and the retry decides exactly what is left.
    monkeypatch.setattr(service_module, "utc_now", lambda: AT)
    monkeypatch.setattr(service_module, "_REEVALUATION_PAGE", 5)
    monkeypatch.setattr(service_module, "_REEVALUATION_IN_FLIGHT", 1)
    publisher = RecordingPublisher(fail_on=2)
    service = RightsService(
        sql_store, publisher, POLICIES[0], topic_of=lambda name: name, tracer=trace.get_tracer("test")
    )
    items = [
        ItemEvent.model_validate(
            {
                **build_item(random.Random(n), n).model_dump(),
                "url": f"https://gone.example/{n}",
                "evidence": {},
            }
        )
        for n in range(40)
    ]
    await sql_store.remember_decisions(
        [DecidedItem(i, Verdict.CONSENT, f"first-{i.event_id}") for i in items]
    )
    revoke = Reservation.model_validate(
        {
            "id": "r-gone",
            "holder": "h",
            "match": {"domain": "gone.example"},
            "purposes": ["all"],
            "from": TIMES[0],
        }
    )
    with pytest.raises(RuntimeError, match="broker down"):
        await service.import_records([revoke])
    first = {
        DecisionEvent.model_validate_json(r.value).item_event_id for page in publisher.sent for r in page
    }
    assert len(first) == 5
    assert await service.reevaluate([revoke]) == (40, 35)
    every = [
        DecisionEvent.model_validate_json(r.value).item_event_id for page in publisher.sent for r in page
    ]
    assert sorted(every) == sorted(i.event_id for i in items)  # each item's flip published once
    verdicts = {d.item.event_id: d.verdict for d in await sql_store.decided_items(selectors_of([revoke]))}
    assert set(verdicts.values()) == {Verdict.VIOLATION}
