"""The proof's machine and its CRMs: each sandbox provisioned once per module, a desk on it.

``Proof`` is a hypothesis state machine that plays a sales team and the operations around
servefirst on one sandbox, through the real client libraries: reps create, edit, delete and move
engagements, name and drop sponsors, move Operational Dates both ways and complete tasks; days
pass; runs meet injected faults, crash between batches, race each other and have the CRM changed
under them while they page. After every clean run the CRM must hold exactly what a full scan on
that day computes from the CRM's own data (read back by the desk and evaluated with the playbook,
sharing nothing with the engine's diff), and no engagement may ever hold two open tasks for one
rule.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.util
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Settings
from servefirst.connectors.hubspot.sandbox.desk import HubSpotDesk
from servefirst.connectors.salesforce.sandbox.desk import SalesforceDesk
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.connectors.sandboxkit.admin import while_held
from servefirst.connectors.sandboxkit.fullscan import SlipBounds, full_scan_differences
from servefirst.playbook.definition import Playbook
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import provision_connection, sync_connection
from servefirst.sync.state import RunStatus, StateStore


@dataclass
class CRM:
    """One provisioned sandbox with its settings, playbook and desk."""

    name: str
    sandbox: RunningSandbox
    settings: Settings
    playbook: Playbook
    desk: SalesforceDesk | HubSpotDesk
    workdir: Path


def _start(crm: str, workdir: Path) -> RunningSandbox:
    if crm == "salesforce":
        from servefirst.connectors.salesforce.sandbox import start_sandbox as sf  # noqa: PLC0415

        return sf(workdir=workdir, seed="none")
    from servefirst.connectors.hubspot.sandbox import start_sandbox as hs  # noqa: PLC0415

    return hs(workdir=workdir, seed="none")


@pytest.fixture(scope="module", params=["salesforce", "hubspot"])
def proof_crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CRM]:
    """A provisioned sandbox per CRM, shared by every example (each one wipes it first)."""
    workdir = tmp_path_factory.mktemp(f"proof-{request.param}")
    sandbox = _start(request.param, workdir / "sandbox")
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        provision_connection(settings, playbook, None, dry_run=False)
        desk: SalesforceDesk | HubSpotDesk
        if request.param == "salesforce":
            desk = SalesforceDesk(sandbox, settings)
        else:
            desk = HubSpotDesk(sandbox, settings)
        try:
            yield CRM(request.param, sandbox, settings, playbook, desk, workdir)
        finally:
            desk.close()
    finally:
        sandbox.stop()


SOAK = int(os.environ.get("SOAK_EXAMPLES", "0"))
MAX_ENGAGEMENTS = 10
#: Leases (one run per connection) exist: concurrent triggers are part of the machine then.
LEASES = importlib.util.find_spec("servefirst.sync.lease") is not None
#: Runs can be asked to stop between batches (SIGTERM): the crash rule asks as well as kills.
STOP = (
    importlib.import_module("servefirst.sync.engine.stop")
    if importlib.util.find_spec("servefirst.sync.engine.stop") is not None
    else None
)
CRITERIA = (None, "- [ ] Setup from 40 to 10 minutes", "- [x] Zero missed shipments")
#: Faults a run may meet: server errors, a connection reset, a rate limit.
FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "status", "status": 503},
    {"kind": "status", "status": 500},
    {"kind": "reset"},
    {"kind": "limit", "policy": "secondly"},
)
#: Where a held request may park: any CRM API request, or only the pull's pages.
HOLD_AT = {
    "salesforce": {"any": "/services/data", "page": "/services/data/v59.0/query"},
    "hubspot": {"any": "/crm", "page": "/crm/v3/objects/deals/search"},
}


class Crash(Exception):  # noqa: N818 - it is the thing that happens, not an error in the test
    """A process dying between batches, as seen by the engine (the batch is applied)."""


class Kill(BaseException):
    """A harder death: not an ``Exception``, so it propagates out of the run after recording."""


@dataclass
class Figures:
    """What a soak did, per CRM: the closing note quotes these."""

    examples: int = 0
    steps: int = 0
    runs: int = 0
    incremental_runs: int = 0
    checks: int = 0
    faults: int = 0
    crashes: int = 0
    held_pulls: int = 0
    concurrent: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self, crm: str) -> str:
        minutes = (time.monotonic() - self.started) / 60
        return (
            f"proof {crm}: {self.examples} examples, {self.steps} steps, {self.runs} runs "
            f"({self.incremental_runs} incremental), {self.checks} invariant checks, "
            f"{self.faults} faults injected, {self.crashes} crashes, {self.held_pulls} runs "
            f"changed mid-pull, {self.concurrent} concurrent attempts, {minutes:.1f} min"
        )


class Proof(RuleBasedStateMachine):
    """One sales team, one connection, one sequence of days, on one sandbox."""

    crm: Any = None
    figures: Figures = Figures()

    def __init__(self) -> None:
        super().__init__()
        crm = self.crm
        self.desk = crm.desk
        self.admin = crm.sandbox.admin
        self.admin.clear_faults()
        self.admin.release()
        self.admin.set_clock_offset(0)
        self.admin.call("POST", "/page-cap", {"max": None})
        self.desk.wipe()
        self.figures.examples += 1
        state = crm.workdir / f"state-{self.figures.examples}.sqlite"
        self.connection = next(iter(crm.settings.connections))
        # Two retries: enough for a run to ride out most faults, few enough that some fail.
        conn = crm.settings.connections[self.connection].model_copy(update={"max_retries": 2})
        self.settings = crm.settings.model_copy(
            update={"state_url": f"sqlite:///{state}", "connections": {self.connection: conn}}
        )
        self.as_of = dt.datetime.now(dt.UTC).date()
        self.ids: list[str] = []
        self.slips = SlipBounds()
        self.runs = 0
        if SOAK and self.figures.examples % 25 == 0:
            print(self.figures.line(crm.name), file=sys.stderr, flush=True)

    def pick(self, index: int) -> str:
        return self.ids[index % len(self.ids)]

    @rule(
        stage=st.sampled_from(["discover", "diagnose", "design", "deliver", "won", "lost"]),
        po=st.integers(-90, 240),
        op=st.none() | st.integers(-60, 400),
        criteria=st.sampled_from(CRITERIA),
        sponsor=st.booleans(),
    )
    @precondition(lambda self: len(self.ids) < MAX_ENGAGEMENTS)
    def create(
        self, stage: str, po: int, op: int | None, criteria: str | None, sponsor: bool
    ) -> None:
        day = self.as_of + dt.timedelta(days=po)
        operational = None if op is None else self.as_of + dt.timedelta(days=op)
        eid = self.desk.create(stage, day, operational, criteria)
        self.slips.set(eid, operational)
        self.ids.append(eid)
        if sponsor:
            self.desk.add_sponsor(eid)

    @rule(index=st.integers(0, 99))
    @precondition(lambda self: self.ids)
    def delete(self, index: int) -> None:
        eid = self.pick(index)
        self.desk.delete(eid)
        self.ids.remove(eid)

    @rule(
        index=st.integers(0, 99),
        stage=st.sampled_from(["discover", "diagnose", "design", "deliver", "won", "lost"]),
    )
    @precondition(lambda self: self.ids)
    def move_stage(self, index: int, stage: str) -> None:
        self.desk.update(self.pick(index), stage=stage)

    @rule(index=st.integers(0, 99), days=st.integers(-90, 90) | st.none())
    @precondition(lambda self: self.ids)
    def move_operational_date(self, index: int, days: int | None) -> None:
        when = None if days is None else self.as_of + dt.timedelta(days=days)
        self.move_date(self.pick(index), when)

    @rule(index=st.integers(0, 99), criteria=st.sampled_from(CRITERIA), confirmed=st.booleans())
    @precondition(lambda self: self.ids)
    def edit_criteria(self, index: int, criteria: str | None, confirmed: bool) -> None:
        self.desk.update(self.pick(index), criteria=criteria, confirmed=confirmed)

    @rule(index=st.integers(0, 99))
    @precondition(lambda self: self.ids)
    def add_sponsor(self, index: int) -> None:
        self.desk.add_sponsor(self.pick(index))

    @rule(index=st.integers(0, 99))
    @precondition(lambda self: self.ids)
    def remove_sponsor(self, index: int) -> None:
        self.desk.remove_sponsor(self.pick(index))

    @rule(index=st.integers(0, 99))
    @precondition(lambda self: self.runs)
    def complete_a_task(self, index: int) -> None:
        """A rep ticks a playbook task done, whether or not the problem is fixed."""
        tasks = self.desk.snapshot().open_tasks
        if tasks:
            self.desk.complete_task(tasks[index % len(tasks)].task_id)

    @rule(offset=st.sampled_from([-600, 600, -3600]))
    @precondition(lambda self: not self.runs)
    def crm_clock_differs(self, offset: int) -> None:
        """The CRM's clock runs minutes away from this machine's, for the whole example."""
        self.admin.set_clock_offset(offset)

    @rule(cap=st.sampled_from([2, 4, None]))
    def pages_hold(self, cap: int | None) -> None:
        """The CRM serves the pull's pages this small (a handful of records still pages)."""
        self.admin.call("POST", "/page-cap", {"max": cap})

    @rule(days=st.integers(1, 45))
    def days_pass(self, days: int) -> None:
        self.as_of += dt.timedelta(days=days)

    @rule()
    def sync(self) -> None:
        report = self.run()
        assert report.status is RunStatus.OK, (report.status, report.error_message, report.errors)
        self.check()

    @rule(
        rate=st.sampled_from([0.05, 0.1, 0.2]), seed=st.integers(0, 2**16), batch=st.integers(1, 4)
    )
    def sync_with_faults(self, rate: float, seed: int, batch: int) -> None:
        before = self.admin.stats()["faults_fired"]
        self.admin.random_faults(rate, seed, list(FAULTS))
        try:
            self.run(batch_size=batch)
        finally:
            self.admin.clear_faults()
        self.figures.faults += self.admin.stats()["faults_fired"] - before
        self.no_duplicates()

    @rule(
        batch=st.integers(1, 3),
        after=st.integers(1, 3),
        how=st.sampled_from(["crash", "kill", "stop"]),
    )
    def sync_crashing_between_batches(self, batch: int, after: int, how: str) -> None:
        """The run dies (or is asked to stop, as by SIGTERM) after its ``after``-th batch."""
        done = 0
        stop = STOP.StopRequest() if STOP is not None and how == "stop" else None

        def crash(_totals: object) -> None:
            nonlocal done
            done += 1
            if done < after:
                return
            if stop is not None:
                stop.request("SIGTERM")
                return
            raise Kill if how == "kill" else Crash

        extra = {"stop": stop} if stop is not None else {}
        with contextlib.suppress(Kill):
            self.run(batch_size=batch, on_progress=crash, **extra)
        self.figures.crashes += 1 if done >= after else 0
        self.no_duplicates()

    @rule(
        after=st.integers(1, 8),
        index=st.integers(0, 99),
        change=st.sampled_from(
            ["op_later", "op_earlier", "stage", "sponsor", "delete", "create", "swap"]
        ),
        where=st.sampled_from(["any", "page"]),
    )
    def sync_while_a_rep_edits(self, after: int, index: int, change: str, where: str) -> None:
        """A rep's edit lands while the run is between two of its requests (or pages)."""
        edit = self._edit(index, change)
        with while_held(self.admin, after, HOLD_AT[self.crm.name][where], edit):
            self.run()
        self.figures.held_pulls += 1
        self.no_duplicates()

    @rule()
    @precondition(lambda _: LEASES)
    def two_runs_at_once(self) -> None:
        """Two triggers of one connection race: at most one runs, and no task opens twice."""
        outcomes: list[BaseException | None] = []

        def attempt() -> None:
            try:
                self.run()
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)

        other = threading.Thread(target=attempt, name="second trigger")
        other.start()
        attempt()
        other.join(timeout=60)
        refused = [e for e in outcomes if e is not None]
        assert all(type(e).__name__ == "LeaseHeldError" for e in refused), refused
        self.figures.concurrent += 1
        self.no_duplicates()

    def _edit(self, index: int, change: str) -> Callable[[], None]:
        if change == "create" or not self.ids:
            return lambda: self.create("design", 30, None, None, sponsor=False)
        eid = self.pick(index)
        if change in ("delete", "swap"):
            # A swap keeps the result set's size: one engagement leaves, another joins.
            self.ids.remove(eid)

            def swap() -> None:
                self.desk.delete(eid)
                self.create("design", 30, None, None, sponsor=False)

            return swap if change == "swap" else lambda: self.desk.delete(eid)
        if change == "stage":
            return lambda: self.desk.update(eid, stage="deliver")
        if change == "sponsor":
            return lambda: self.desk.add_sponsor(eid)
        shift = 30 if change == "op_later" else -30
        return lambda: self.move_date(eid, self.as_of + dt.timedelta(days=200 + shift))

    def move_date(self, eid: str, when: dt.date | None) -> None:
        self.desk.update(eid, op=when)
        self.slips.set(eid, when)

    def run(self, **options: Any) -> RunReport:
        """One sync as the CLI starts it; ``on_progress`` and ``stop`` go to the service."""
        service = {k: options.pop(k) for k in ("on_progress", "stop") if k in options}
        report = sync_connection(
            self.settings,
            self.crm.playbook,
            None,
            SyncOptions(as_of=self.as_of, keep_engagements=False, **options),
            **service,
        )
        self.runs += 1
        self.figures.runs += 1
        self.figures.incremental_runs += 0 if report.full_scan else 1
        return report

    @invariant()
    def count_step(self) -> None:
        self.figures.steps += 1

    def teardown(self) -> None:
        if self.runs:
            self.sync()

    def no_duplicates(self) -> None:
        counts = Counter(t.key for t in self.desk.snapshot().open_tasks)
        twice = sorted(key for key, n in counts.items() if n > 1)
        assert not twice, f"two open tasks for one rule: {twice}"

    def check(self) -> None:
        """The CRM now holds exactly what a full scan on ``as_of`` computes from its data."""
        snapshot = self.desk.snapshot()
        store = StateStore.open(self.settings.resolve_state_url())
        try:
            dates = store.get_engagement_dates(self.connection, list(snapshot.engagements))
        finally:
            store.close()
        remembered = {e: (d.last_operational_date, d.slips) for e, d in dates.items()}
        self.slips.observe(snapshot)
        wrong = full_scan_differences(snapshot, self.crm.playbook, self.as_of, remembered)
        wrong += self.slips.outside(snapshot)
        self.figures.checks += 1
        assert not wrong, "\n".join(wrong)


@pytest.fixture
def proof_machine(proof_crm: CRM) -> type[Proof]:
    """The machine bound to one CRM, its figures kept across the module's tests."""

    class OnCRM(Proof):
        pass

    OnCRM.crm = proof_crm
    OnCRM.figures = FIGURES.setdefault(proof_crm.name, Figures())
    return OnCRM


FIGURES: dict[str, Figures] = {}
