"""The sales team and RevOps around the proof's runs: everything people do to the CRM.

Reps create, edit, delete and move engagements, name and drop sponsors, move Operational Dates
both ways and tick tasks done; RevOps turns playbook rules off and on; the calendar (and with it
the CRM's clock) moves on, and the CRM may serve small pages or run its clock away from ours.
``Team`` holds these rules; the machine in ``conftest`` adds the runs and the invariant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from servefirst.connectors.sandboxkit import SandboxAdmin
from servefirst.connectors.sandboxkit.fullscan import SlipBounds
from servefirst.playbook.definition import Playbook

MAX_ENGAGEMENTS = 10
CRITERIA = (None, "- [ ] Setup from 40 to 10 minutes", "- [x] Zero missed shipments")
STAGES = ["discover", "diagnose", "design", "deliver", "won", "lost"]


class Team(RuleBasedStateMachine):
    """What people do to one CRM between (and during) runs; the state is set by the machine."""

    desk: Any
    admin: SandboxAdmin
    playbook: Playbook
    ids: list[str]
    slips: SlipBounds
    as_of: dt.date
    clock_offset: float
    runs: int

    def pick(self, index: int) -> str:
        return self.ids[index % len(self.ids)]

    @rule(
        stage=st.sampled_from(STAGES),
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
        stage=st.sampled_from(STAGES),
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
        self.tick(offset)

    @rule(cap=st.sampled_from([2, 4, None]))
    def pages_hold(self, cap: int | None) -> None:
        """The CRM serves the pull's pages this small (a handful of records still pages)."""
        self.admin.call("POST", "/page-cap", {"max": cap})

    @rule(rule_id=st.sampled_from(["sponsor_missing", "operational_date_past", "po_date_past"]))
    def revops_toggles_a_rule(self, rule_id: str) -> None:
        """RevOps turns a rule off or on again: every engagement's findings may change."""
        rules = dict(self.playbook.rules)
        rules[rule_id] = rules[rule_id].model_copy(update={"enabled": not rules[rule_id].enabled})
        self.playbook = self.playbook.model_copy(update={"rules": rules})

    @rule(days=st.integers(1, 45))
    def days_pass(self, days: int) -> None:
        """The calendar moves on, for the playbook and for the CRM's clock alike."""
        self.as_of += dt.timedelta(days=days)
        self.tick(days * 86_400)

    def tick(self, seconds: float) -> None:
        """Move the CRM's clock on. Every run first moves it a few seconds, so what happened
        before the run is never in the same second as its watermark: a run re-reads only what
        it must, and an incremental pull that misses an edit cannot hide behind a re-read.
        """
        self.clock_offset += seconds
        self.admin.set_clock_offset(self.clock_offset)

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
