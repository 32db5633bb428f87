"""An incremental run leaves what a full scan would: retry set, CRM clock, fingerprint, dates."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Assessment, Engagement, Health
from servefirst.sync.engine import RunReport, SyncOptions, run_sync
from servefirst.sync.state import RetryBackoff, RunStatus, StateStore

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

T0 = dt.date(2026, 3, 2)
Make = Callable[..., Engagement]
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
REFUSAL = "FIELD_CUSTOM_VALIDATION_EXCEPTION: Close the loop first"
#: Retry on every run: these tests look at what is pulled, not at how long it waits.
AT_ONCE = RetryBackoff(first=dt.timedelta(0), stuck_after=3)


def sync(
    fake: FakeConnector, playbook: Playbook, store: StateStore, as_of: dt.date = T0, **opts: Any
) -> RunReport:
    opts.setdefault("retry", AT_ONCE)
    return run_sync(fake, playbook, store, "acme", SyncOptions(as_of=as_of, **opts))


def seed(fake: FakeConnector, make: Make, count: int = 6) -> None:
    for i in range(count):
        fake.add(make(f"E{i}", sponsor=i % 2 == 0))


def quiet(fake: FakeConnector, playbook: Playbook, store: StateStore) -> None:
    """Run until a run reads nothing (our own writes are re-read once)."""
    for _ in range(3):
        if sync(fake, playbook, store).totals.engagements_read == 0:
            return
    raise AssertionError("the runs never settled")


def test_a_refused_record_is_re_pulled_by_id_until_it_syncs(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    fake.refuse["E1"] = REFUSAL
    first = sync(fake, prime, store)
    assert first.status is RunStatus.PARTIAL
    assert store.get_watermark("acme") is not None
    sync(fake, prime, store)  # re-reads our own writes; E1 is refused again

    third = sync(fake, prime, store)
    assert fake.windows[-1].ids == ("E1",)
    assert not third.full_scan
    assert [e.id for e in third.engagements] == ["E1"]  # exactly the retry set, nothing else
    assert third.status is RunStatus.PARTIAL
    (entry,) = third.retry
    assert (entry.engagement_id, entry.attempts, entry.reason) == ("E1", 3, REFUSAL)
    assert entry.stuck  # stuck_after=3: still listed, with the CRM's own words
    listed: Any = third.to_json()["retry_set"]
    assert listed[0]["message"] == REFUSAL

    del fake.refuse["E1"]  # an admin fixes the validation rule
    fixed = sync(fake, prime, store)
    assert fixed.status is RunStatus.OK
    assert fake.records["E1"].current.health is Health.OFF_TRACK
    assert store.retry_entries("acme") == [] == fixed.retry
    quiet(fake, prime, store)
    assert not fake.windows[-1].ids


def test_retries_back_off_and_stuck_records_keep_runs_partial(any_store: StateStore) -> None:
    policy = RetryBackoff(first=dt.timedelta(minutes=5), stuck_after=3)
    waits = []
    for attempt in range(1, 5):
        now = NOW + dt.timedelta(hours=attempt)
        any_store.settle_retry_set(
            "acme", failed={"E1": f"refused {attempt}"}, resolved=(), now=now, backoff=policy
        )
        assert any_store.retry_due("acme", now) == []
        (entry,) = any_store.retry_entries("acme", policy)
        waits.append(entry.next_attempt - now)
        assert any_store.retry_due("acme", entry.next_attempt) == ["E1"]
    assert waits == [dt.timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert (entry.attempts, entry.reason, entry.stuck) == (4, "refused 4", True)
    assert policy.delay(40) == policy.longest
    any_store.settle_retry_set("acme", failed={}, resolved=["E1"], now=NOW, backoff=policy)
    assert any_store.retry_entries("acme") == []


def test_a_stuck_record_not_due_still_makes_the_run_partial(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    fake.refuse["E1"] = REFUSAL
    once = RetryBackoff(first=dt.timedelta(0), stuck_after=1)
    assert sync(fake, prime, store, retry=once).status is RunStatus.PARTIAL
    later = RetryBackoff(first=dt.timedelta(hours=1), stuck_after=1)
    sync(fake, prime, store, retry=later)  # E1 refused again: next try in two hours
    report = sync(fake, prime, store, retry=later)
    assert "E1" not in fake.windows[-1].ids
    assert report.errors == []
    assert report.status is RunStatus.PARTIAL  # the stuck record is not forgotten
    assert [(e.engagement_id, e.stuck) for e in report.retry] == [("E1", True)]


def test_a_deleted_record_leaves_the_retry_set(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    fake.refuse["E1"] = REFUSAL
    sync(fake, prime, store)
    del fake.records["E1"]
    report = sync(fake, prime, store)
    assert "E1" in fake.windows[-1].ids
    assert report.status is RunStatus.OK
    assert store.retry_entries("acme") == []


def test_an_unmappable_record_is_a_record_error_and_retried(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    fake.unmappable["E2"] = "cannot read this deal: operational_date 'soon' is not a date"
    report = sync(fake, prime, store)
    assert report.status is RunStatus.PARTIAL
    assert [(p.record_id, p.message) for p in report.errors] == [("E2", fake.unmappable["E2"])]
    assert report.totals.record_errors == 1
    assert "E2" not in {e.id for e in report.engagements}
    assert store.get_watermark("acme") is not None
    assert [e.engagement_id for e in store.retry_entries("acme")] == ["E2"]

    del fake.unmappable["E2"]  # a rep fixes the value (without the stamp moving, even)
    quiet(fake, prime, store)
    assert fake.records["E2"].current.health is Health.ON_TRACK
    assert store.retry_entries("acme") == []


def test_the_watermark_is_the_crm_clock_of_the_first_response_never_this_machine(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    # The in-memory CRM's clock runs on 2026-03-02, months away from this machine's.
    seed(fake, make)
    sync(fake, prime, store)
    quiet(fake, prime, store)
    mark = store.get_watermark("acme")
    assert mark is not None
    assert mark.modified_since == fake.first_response
    assert abs(mark.modified_since - dt.datetime.now(dt.UTC)) > dt.timedelta(days=1)

    fake.edit("E3", sponsors=())  # a rep edits, on the CRM's clock
    report = sync(fake, prime, store)
    assert [e.id for e in report.engagements] == ["E3"]
    assert [t.rule for t in fake.open_tasks("E3")] == ["sponsor_missing"]


@pytest.mark.parametrize(("offset_minutes", "warned"), [(10, True), (-10, True), (0, False)])
def test_a_crm_clock_skewed_beyond_the_overlap_is_logged(
    fake: FakeConnector,
    prime: Playbook,
    store: StateStore,
    make: Make,
    caplog: pytest.LogCaptureFixture,
    offset_minutes: int,
    warned: bool,
) -> None:
    fake.clock = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=offset_minutes)
    seed(fake, make)
    with caplog.at_level(logging.WARNING, logger="servefirst"):
        sync(fake, prime, store, skew_tolerance=dt.timedelta(minutes=5))
    skews = [r.getMessage() for r in caplog.records if "crm_clock_skew" in r.getMessage()]
    assert bool(skews) is warned, skews
    if warned:
        assert f"skew_seconds={'-' if offset_minutes < 0 else ''}" in skews[0]


def test_a_changed_mapping_forces_a_full_scan(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store, mapping_digest="stage_map=v1")
    sync(fake, prime, store, mapping_digest="stage_map=v1")
    assert not sync(fake, prime, store, mapping_digest="stage_map=v1").full_scan
    changed = sync(fake, prime, store, mapping_digest="stage_map=v2")
    assert changed.full_scan
    assert changed.totals.engagements_read == 6
    assert not sync(fake, prime, store, mapping_digest="stage_map=v2").full_scan


def test_date_sensitive_engagements_are_re_pulled_when_the_date_moves(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sensitive = {"E4"}

    def evaluator(
        engagement: Engagement, playbook: Playbook, as_of: dt.date, *, slips: int
    ) -> Assessment:
        assessment = evaluate(engagement, playbook, as_of, slips=slips)
        return assessment.model_copy(update={"date_sensitive": engagement.id in sensitive})

    def run(as_of: dt.date) -> RunReport:
        options = SyncOptions(as_of=as_of, retry=AT_ONCE)
        return run_sync(fake, prime, store, "acme", options, evaluator=evaluator)

    run(T0)
    run(T0)
    assert run(T0).totals.engagements_read == 0
    assert not fake.windows[-1].ids  # the same day: nothing date-sensitive to redo

    tomorrow = run(T0 + dt.timedelta(days=1))
    assert fake.windows[-1].ids == ("E4",)
    assert "E4" in {e.id for e in tomorrow.engagements}

    sensitive.clear()  # E4's text no longer depends on the date
    run(T0 + dt.timedelta(days=2))
    run(T0 + dt.timedelta(days=3))
    assert not fake.windows[-1].ids
