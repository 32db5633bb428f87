"""An in-memory CRM for the engine's unit tests, and helpers to build engagements.

``FakeConnector`` implements the ``Connector`` protocol over dicts with the behaviour the engine
relies on from real connectors: pages of a fixed size, a server clock of its own (months away
from this machine's, moving with every write), ``modified_since`` / key-date-range / by-id
filtering, idempotent task upserts on the task key, autofill re-checked at write time,
per-record refusals and records it cannot map. It also counts calls and keeps
every plan it was given, so tests can assert on writes the way the benchmarks do.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.connectors.base import (
    ApiCalls,
    ApplyResult,
    Plan,
    ProvisionReport,
    ProvisionStep,
    PullWindow,
    UnmappableRecord,
    WriteResult,
)
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import (
    Engagement,
    PluginFields,
    Sponsor,
    Status,
    SuccessCriterion,
    TaskRef,
)
from servefirst.sync.state import StateStore

T0 = dt.date(2026, 3, 2)


@dataclass
class FakeTask:
    task_id: str
    key: str
    rule: str
    engagement_id: str
    subject: str
    is_open: bool = True


class SimulatedCrashError(RuntimeError):
    """Stands for the process dying in the middle of a batch apply."""


@dataclass
class FakeConnector:
    """The engine's view of a CRM, in memory."""

    crm: str = "fake"
    page_size: int = 100
    records: dict[str, Engagement] = field(default_factory=dict)
    tasks: dict[str, FakeTask] = field(default_factory=dict)  # by task id
    clock: dt.datetime = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    plans: list[Plan] = field(default_factory=list)
    windows: list[PullWindow] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # engagement id -> CRM error message
    unmappable: dict[str, str] = field(default_factory=dict)  # engagement id -> why
    #: The CRM clock at the first response of the latest pull: what ``server_time`` reports,
    #: like a real connector reading the ``Date`` of its first response.
    first_response: dt.datetime | None = None
    crash_after_writes: int | None = None  # raise SimulatedCrashError after this many writes
    pull_error: BaseException | None = None
    before_write: Callable[[FakeConnector], None] | None = None
    calls: ApiCalls = field(default_factory=ApiCalls)
    _next_task: int = 0

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=1)
        return self.clock

    def add(self, engagement: Engagement) -> None:
        self.records[engagement.id] = engagement.model_copy(update={"last_modified": self.tick()})

    def edit(self, engagement_id: str, **values: object) -> None:
        """A rep edits a record in the CRM (its last-modified stamp moves)."""
        update = dict(values, last_modified=self.tick())
        self.records[engagement_id] = self.records[engagement_id].model_copy(update=update)

    def open_tasks(self, engagement_id: str | None = None) -> list[FakeTask]:
        return [
            t
            for t in self.tasks.values()
            if t.is_open and (engagement_id is None or t.engagement_id == engagement_id)
        ]

    def new_task(self, key: str, rule: str, engagement_id: str, subject: str) -> FakeTask:
        self._next_task += 1
        task = FakeTask(f"T{self._next_task:05d}", key, rule, engagement_id, subject)
        self.tasks[task.task_id] = task
        return task

    def provision(self, playbook: Playbook, *, dry_run: bool) -> ProvisionReport:
        step = ProvisionStep("field", "health", "none" if dry_run else "create", playbook.name)
        return ProvisionReport(steps=(step,), applied=not dry_run)

    def _matches(self, e: Engagement, window: PullWindow) -> bool:
        if window.modified_since is None or e.id in window.ids:
            return True
        if e.last_modified is not None and e.last_modified >= window.modified_since:
            return True
        for rng in window.date_ranges:
            value = getattr(e, rng.field)
            if value is not None and rng.start <= value < rng.end:
                return True
        return False

    def _view(self, e: Engagement) -> Engagement:
        refs = tuple(
            TaskRef(key=t.key, rule=t.rule, task_id=t.task_id) for t in self.open_tasks(e.id)
        )
        return e.model_copy(update={"open_tasks": refs})

    def pull(self, window: PullWindow) -> Iterator[Engagement | UnmappableRecord]:
        self.windows.append(window)
        if self.pull_error is not None:
            raise self.pull_error
        matching = sorted(i for i, e in self.records.items() if self._matches(e, window))
        self.calls.read += 1
        self.first_response = self.tick()
        for start in range(0, max(len(matching), 1), self.page_size):
            if start:
                self.calls.read += 1
            for engagement_id in matching[start : start + self.page_size]:
                if engagement_id in self.unmappable:
                    yield UnmappableRecord(engagement_id, self.unmappable[engagement_id])
                else:
                    yield self._view(self.records[engagement_id])

    def _write(self) -> None:
        if self.crash_after_writes is not None:
            if self.crash_after_writes <= 0:
                raise SimulatedCrashError("killed in the middle of a batch")
            self.crash_after_writes -= 1

    def apply(self, plan: Plan) -> ApplyResult:
        self.plans.append(plan)
        self.calls.write += 1
        if self.before_write is not None:
            self.before_write(self)
        out = ApplyResult()
        for update in plan.updates:
            self._write()
            eid = update.engagement_id
            if eid in self.refuse:
                out.results.append(WriteResult("update", eid, ok=False, message=self.refuse[eid]))
                continue
            record = self.records[eid]
            current = record.current.model_dump()
            values: dict[str, object] = {}
            conflict = False
            for change in update.changes:
                if change.only_if_empty:
                    if getattr(record, change.field) is not None:
                        conflict = True
                        continue
                    values[change.field] = change.after
                else:
                    current[change.field] = change.after
            if conflict and not values and all(c.only_if_empty for c in update.changes):
                # Like the real connectors: nothing left to write is reported as not ok.
                out.results.append(WriteResult("update", eid, ok=False, skipped_conflict=True))
                continue
            values["current"] = PluginFields(**current)
            self.edit(eid, **values)
            out.results.append(WriteResult("update", eid, ok=True, skipped_conflict=conflict))
        for opened in plan.task_opens:
            self._write()
            eid, task = opened.engagement_id, opened.task
            if eid in self.refuse:
                out.results.append(
                    WriteResult("task_open", eid, ok=False, message=self.refuse[eid])
                )
                continue
            existing = next((t for t in self.tasks.values() if t.key == task.key), None)
            if existing is None:
                existing = self.new_task(task.key, task.rule, eid, task.subject)
            existing.is_open = True
            out.results.append(WriteResult("task_open", eid, ok=True, crm_id=existing.task_id))
        for closed in plan.task_closes:
            self._write()
            self.tasks[closed.task_id].is_open = False
            out.results.append(WriteResult("task_close", closed.engagement_id, ok=True))
        return out

    def record_url(self, engagement_id: str) -> str | None:
        return f"https://crm.example/records/{engagement_id}"

    def server_time(self) -> dt.datetime:
        # Before any response a real connector has nothing better than this machine's clock.
        return self.first_response or dt.datetime.now(dt.UTC)

    @property
    def api_calls(self) -> ApiCalls:
        return ApiCalls(read=self.calls.read, write=self.calls.write)

    def close(self) -> None:
        return None


def engagement(
    engagement_id: str,
    *,
    stage: str | None = "design",
    status: Status = Status.OPEN,
    sponsor: bool = True,
    criteria: bool = True,
    po_date: dt.date | None = T0 + dt.timedelta(days=30),
    operational_date: dt.date | None = T0 + dt.timedelta(days=90),
    slips: int | None = None,
) -> Engagement:
    """An engagement that is on track on ``T0`` unless told otherwise."""
    return Engagement(
        id=engagement_id,
        crm="fake",
        name=f"Engagement {engagement_id}",
        owner_id="005OWNER",
        stage=stage,
        raw_stage=(stage or "Negotiation").title(),
        status=status,
        po_date=po_date,
        operational_date=operational_date,
        success_criteria=(SuccessCriterion(text="cut setup from 40 to 10 minutes"),)
        if criteria
        else (),
        sponsors=(Sponsor(contact_id="003S", name="Dana Sponsor"),) if sponsor else (),
        current=PluginFields(slips=slips),
    )


@pytest.fixture(scope="session")
def prime() -> Playbook:
    return load_playbook_file(builtin_playbook("prime"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    state = StateStore.open(f"sqlite:///{tmp_path / 'state' / 'state.db'}")
    yield state
    state.close()


PG_URL = os.environ.get(
    "SERVEFIRST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reachable() -> bool:
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh state database on each backend, by URL (other processes can open it too).

    PostgreSQL gets a throwaway schema, named in the URL's connection options and dropped
    afterwards; the test skips, saying why, where PostgreSQL is not reachable.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    if not _postgres_reachable():
        pytest.skip(
            f"PostgreSQL is not reachable at {make_url(PG_URL)!r}; start it or set "
            "SERVEFIRST_TEST_POSTGRES_URL"
        )
    name = f"servefirst_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def any_store(state_url: str) -> Iterator[StateStore]:
    """A fresh store on each backend."""
    state = StateStore.open(state_url)
    yield state
    state.close()


@pytest.fixture
def fake() -> FakeConnector:
    return FakeConnector()


@pytest.fixture
def make() -> Callable[..., Engagement]:
    """The ``engagement`` builder (fixtures are how test modules share code here)."""
    return engagement
