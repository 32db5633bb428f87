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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from tests.sync.proof.team import STAGES, Team

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Settings
from servefirst.connectors.budget import LocalLimiter
from servefirst.connectors.hubspot import connector as hubspot_connector
from servefirst.connectors.hubspot.limits import Pacer
from servefirst.connectors.hubspot.sandbox.desk import HubSpotDesk
from servefirst.connectors.salesforce.sandbox.desk import SalesforceDesk
from servefirst.connectors.sandboxkit import FaultKind, RunningSandbox
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
    """An empty org or portal; the machine drives the clock, faults and limits itself, so the
    sandbox's real-CRM defaults (standard stages, rate limits, search lag) are off."""
    if crm == "salesforce":
        from servefirst.connectors.salesforce.sandbox import start_sandbox as sf  # noqa: PLC0415

        return sf(workdir=workdir, seed="none", stages="servefirst")
    from servefirst.connectors.hubspot.sandbox import start_sandbox as hs  # noqa: PLC0415

    return hs(workdir=workdir, seed="none", rate_limits=False, search_lag_seconds=0.0)


class SkippedTime:
    """The HubSpot connector's pacing clock, where a wait is skipped rather than slept.

    The proof's portal enforces no rate limit (the machine injects its 429s as faults), so the
    connector's own pacing (five searches a second, a window's wait after a 429, a retry's
    backoff) only costs the soak wall time: two thirds of it when slept for real. Here a wait
    moves this clock on at once, as if the time had passed; the pacer still decides every wait
    from the replies' headers, and runs still race each other in real threads. The CRM's clock,
    which the watermark comes from, stays the sandbox's own.
    """

    def __init__(self) -> None:
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.monotonic() + self._skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._skipped += max(seconds, 0.0)
        time.sleep(0)  # let the other trigger's thread run, as a real wait would


def _pacer_in(clock: SkippedTime) -> Any:
    """``connect``'s pacer, on ``clock``; one limiter for the process, as the real one is."""
    limiter = LocalLimiter(clock.now)

    def pacer(budget_share: float, *, key: str = "portal", **_process_limiter: Any) -> Pacer:
        return Pacer(budget_share, clock=clock.now, sleep=clock.sleep, limiter=limiter, key=key)

    return pacer


@pytest.fixture(scope="module", params=["salesforce", "hubspot"])
def proof_crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CRM]:
    """A provisioned sandbox per CRM, shared by every example (each one wipes it first)."""
    workdir = tmp_path_factory.mktemp(f"proof-{request.param}")
    sandbox = _start(request.param, workdir / "sandbox")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "hubspot":
            patch.setattr(hubspot_connector, "Pacer", _pacer_in(SkippedTime()))
        yield from _provisioned(request.param, sandbox, workdir)


def _provisioned(crm: str, sandbox: RunningSandbox, workdir: Path) -> Iterator[CRM]:
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        provision_connection(settings, playbook, None, dry_run=False)
        desk: SalesforceDesk | HubSpotDesk
        if crm == "salesforce":
            desk = SalesforceDesk(sandbox, settings)
        else:
            desk = HubSpotDesk(sandbox, settings)
        try:
            yield CRM(crm, sandbox, settings, playbook, desk, workdir)
        finally:
            desk.close()
    finally:
        sandbox.stop()


SOAK = int(os.environ.get("SOAK_EXAMPLES", "0"))
#: Leases (one run per connection) exist: concurrent triggers are part of the machine then.
LEASES = importlib.util.find_spec("servefirst.sync.lease") is not None
#: Runs can be asked to stop between batches (SIGTERM): the crash rule asks as well as kills.
STOP = (
    importlib.import_module("servefirst.sync.engine.stop")
    if importlib.util.find_spec("servefirst.sync.engine.stop") is not None
    else None
)
#: Faults a run may meet: server errors, a connection reset, a rate limit.
FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "status", "status": 503},
    {"kind": "status", "status": 500},
    {"kind": "reset"},
    {"kind": "limit", "policy": "secondly"},
)
#: Faults that carry the request out and then lose its reply, where the sandboxes have them.
REPLY_LOST: tuple[dict[str, Any], ...] = tuple(
    fault
    for fault in ({"kind": "applied_reset"}, {"kind": "applied_status", "status": 502})
    if fault["kind"] in {kind.value for kind in FaultKind}
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


class Proof(Team):
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
        self.clock_offset = 0.0
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
        self.playbook = crm.playbook
        self.ids: list[str] = []
        self.slips = SlipBounds()
        self.runs = 0
        if SOAK and self.figures.examples % 25 == 0:
            print(self.figures.line(crm.name), file=sys.stderr, flush=True)

    @rule()
    def sync(self) -> None:
        report = self.run()
        assert report.status is RunStatus.OK, (report.status, report.error_message, report.errors)
        self.check()

    @rule(
        rate=st.sampled_from([0.1, 0.2, 0.4]), seed=st.integers(0, 2**16), batch=st.integers(1, 4)
    )
    def sync_with_faults(self, rate: float, seed: int, batch: int) -> None:
        before = self.admin.stats()["faults_fired"]
        self.admin.random_faults(rate, seed, [*FAULTS, *REPLY_LOST])
        try:
            self.run(batch_size=batch)
        finally:
            self.admin.clear_faults()
        self.figures.faults += self.admin.stats()["faults_fired"] - before
        self.no_duplicates()

    @rule(nth=st.integers(1, 3), method=st.sampled_from(["POST", "PATCH"]), which=st.integers(0, 1))
    @precondition(lambda _: bool(REPLY_LOST))
    def sync_losing_a_write_reply(self, nth: int, method: str, which: int) -> None:
        """The CRM applies one of the run's writes, and the reply never arrives."""
        fault = REPLY_LOST[which % len(REPLY_LOST)]
        prefix = HOLD_AT[self.crm.name]["any"]
        before = self.admin.stats()["faults_fired"]
        # The nth write: the first nth - 1 pass untouched (a latency fault of zero).
        if nth > 1:
            self.admin.inject("latency", nth - 1, method=method, path_prefix=prefix)
        self.admin.inject(count=1, method=method, path_prefix=prefix, **fault)
        try:
            self.run()
        finally:
            self.admin.clear_faults()
        fired = self.admin.stats()["faults_fired"] - before
        self.figures.faults += max(fired - (nth - 1), 0)
        self.no_duplicates()

    @rule(
        batch=st.integers(1, 2),
        after=st.integers(1, 2),
        how=st.sampled_from(["crash", "kill", "stop"]),
        edited=st.lists(st.tuples(st.integers(0, 99), st.sampled_from(STAGES)), max_size=4),
    )
    def sync_crashing_between_batches(
        self, batch: int, after: int, how: str, edited: list[tuple[int, str]]
    ) -> None:
        """Reps moved a few engagements; the run dies (or is asked to stop, as by SIGTERM)
        after its ``after``-th batch of them."""
        for index, stage in edited if self.ids else ():
            self.desk.update(self.pick(index), stage=stage)
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

    def run(self, **options: Any) -> RunReport:
        """One sync as the CLI starts it; ``on_progress`` and ``stop`` go to the service."""
        service = {k: options.pop(k) for k in ("on_progress", "stop") if k in options}
        self.tick(5)
        report = sync_connection(
            self.settings,
            self.playbook,
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
        wrong = full_scan_differences(snapshot, self.playbook, self.as_of, remembered)
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
