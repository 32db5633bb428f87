"""Playbook tasks in HubSpot: one open task per (deal, rule), whatever crashes or retries happen.

Every playbook task carries servefirst's deterministic key (``servefirst:<deal>:<rule>``) in a
task property. HubSpot only enforces unique values (and so only offers batch upsert by a
property) on objects whose properties may be unique; tasks are not among them, so upsert by the
key is not available and the guarantee is built from two consistent facts instead:

1. A task is created *with* its association to the deal in the same create call, so a task
   exists only if it is associated: there is no window where it exists unlinked.
2. The v4 association read (deal -> tasks) and the batch read by id are consistent, unlike
   search, which trails writes by seconds.

So opening tasks is always "read the deals' associated tasks, then create only the keys not
found". A crash after the create and before the run is recorded replays into the read step,
which finds the task; a create whose reply was lost (5xx, reset connection) is never retried
blindly (the client does not retry creates), the whole read-then-create step is retried
instead. A key found on a completed task reopens that task rather than creating a second one.

A completed task the pull already found (a rep marked it done while its problem persists) is
reopened by id along with the closes and rewordings, without the read; so is every close. The
edits go before the creates: a problem whose task changes key (rules grouped under one task)
never has two open tasks, even if the run stops in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.base import (
    TASK_DESCRIPTION_MAX,
    TASK_SUBJECT_MAX,
    Plan,
    TaskOpen,
    WriteResult,
)
from servefirst.connectors.hubspot.client import HubSpotClient
from servefirst.connectors.hubspot.mapping import TASK_DONE_STATUS, task_properties
from servefirst.connectors.hubspot.records import associations, batch_read
from servefirst.connectors.hubspot.writes import WriteInput, batch_create, batch_update

#: HubSpot-defined association type: task -> deal.
TASK_TO_DEAL = 216


@dataclass(frozen=True)
class ExistingTask:
    """A playbook task found on a deal."""

    task_id: str
    deal_id: str
    status: str


class TaskWriter:
    """Opens and closes playbook tasks for one connection."""

    def __init__(self, client: HubSpotClient, fields: HubSpotFields) -> None:
        self.client = client
        self.fields = fields

    def existing(self, deal_ids: Sequence[str]) -> dict[str, ExistingTask]:
        """Playbook tasks associated to these deals, by key (consistent reads only)."""
        links = associations(self.client, "deals", "tasks", deal_ids)
        deal_of = {a.to_id: deal for deal, found in links.items() for a in found}
        if not deal_of:
            return {}
        props = batch_read(
            self.client, "tasks", list(deal_of), (self.fields.task_key, "hs_task_status")
        )
        found: dict[str, ExistingTask] = {}
        for task_id, values in sorted(props.items()):
            key = values.get(self.fields.task_key)
            status = values.get("hs_task_status") or ""
            if not key:
                continue
            current = found.get(key)
            # Should a duplicate ever exist (created by hand), prefer the open one.
            if current is None or current.status == TASK_DONE_STATUS:
                found[key] = ExistingTask(task_id, deal_of[task_id], status)
        return found

    def open(self, opens: Sequence[TaskOpen], owners: dict[str, str | None]) -> list[WriteResult]:
        """Make sure each task is open; results in the order of ``opens``.

        ``owners`` maps deal id -> the deal's owner, used when a desired task names none.
        """
        unique = list({op.task.key: op for op in opens}.values())
        outcome: dict[str, WriteResult] = {}
        if unique:
            outcome = self.client.step("open tasks", lambda: self._open_once(unique, owners))
        return [outcome[op.task.key] for op in opens]

    def _open_once(
        self, opens: Sequence[TaskOpen], owners: dict[str, str | None]
    ) -> dict[str, WriteResult]:
        existing = self.existing([op.engagement_id for op in opens])
        results: dict[str, WriteResult] = {}
        reopen: list[WriteInput] = []
        create: list[WriteInput] = []
        for op in opens:
            key = op.task.key
            props = task_properties(
                op.task, owner_id=owners.get(op.engagement_id), key_property=self.fields.task_key
            )
            found = existing.get(key)
            if found is None:
                create.append(WriteInput(key, props, ((op.engagement_id, TASK_TO_DEAL),)))
            elif found.status == TASK_DONE_STATUS:
                reopen.append(WriteInput(found.task_id, props))
            else:
                results[key] = WriteResult(
                    "task_open", op.engagement_id, True, found.task_id, "already open"
                )
        by_task = {existing[op.task.key].task_id: op for op in opens if op.task.key in existing}
        for task_id, out in batch_update(self.client, "tasks", reopen).items():
            op = by_task[task_id]
            message = "reopened" if out.ok else out.message
            results[op.task.key] = WriteResult(
                "task_open", op.engagement_id, out.ok, task_id, message
            )
        created = batch_create(self.client, "tasks", create, key_property=self.fields.task_key)
        by_key = {op.task.key: op for op in opens}
        for key, out in created.items():
            results[key] = WriteResult(
                "task_open", by_key[key].engagement_id, out.ok, out.crm_id, out.message
            )
        return results

    def edit(self, plan: Plan) -> list[WriteResult]:
        """Closes, rewordings and reopens of tasks found by the pull: one batch update stream.

        All three are updates of known tasks by id, so they share batches of 100. A task
        already deleted counts as closed.
        """
        inputs: list[tuple[str, str, WriteInput]] = [
            (
                "task_close",
                c.engagement_id,
                WriteInput(c.task_id, {"hs_task_status": TASK_DONE_STATUS}),
            )
            for c in plan.task_closes
        ]
        inputs += [
            (
                "task_update",
                u.engagement_id,
                WriteInput(
                    u.task_id,
                    {
                        "hs_task_subject": u.subject[:TASK_SUBJECT_MAX],
                        "hs_task_body": u.description[:TASK_DESCRIPTION_MAX],
                    },
                ),
            )
            for u in plan.task_updates
        ]
        inputs += [
            (
                "task_open",
                o.engagement_id,
                WriteInput(
                    o.reopen_task_id,
                    task_properties(o.task, owner_id=None, key_property=self.fields.task_key),
                ),
            )
            for o in plan.task_opens
            if o.reopen_task_id is not None
        ]
        unique = {item.ref: item for _, _, item in inputs}
        outcomes = batch_update(self.client, "tasks", list(unique.values()))
        results = []
        for kind, engagement_id, item in inputs:
            out = outcomes[item.ref]
            if kind == "task_close" and not out.ok and out.category == "OBJECT_NOT_FOUND":
                results.append(WriteResult(kind, engagement_id, True, item.ref, "already deleted"))
            else:
                message = "reopened" if kind == "task_open" and out.ok else out.message
                results.append(WriteResult(kind, engagement_id, out.ok, item.ref, message))
        return results
