"""Applying a plan: deal updates in batches of 100, autofill re-checked, then tasks.

Autofill (an opt-in write of an empty rep-owned field, e.g. a proposed Operational Date) must
never overwrite what a rep typed after the pull, so the deals it concerns are re-read right
before writing (one batch read per 100 deals) and a field found filled is left alone: the
result says ``skipped_conflict``. The window between that read and the write is a few
milliseconds rather than the whole run; HubSpot offers no conditional update to close it.
"""

from __future__ import annotations

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.base import (
    ApplyResult,
    Plan,
    RecordUpdate,
    TaskOpen,
    WriteResult,
    held_back,
)
from servefirst.connectors.hubspot.client import HubSpotClient
from servefirst.connectors.hubspot.mapping import Props, property_for, to_wire
from servefirst.connectors.hubspot.records import batch_read
from servefirst.connectors.hubspot.tasks import TaskWriter
from servefirst.connectors.hubspot.writes import WriteInput, batch_update


class Writer:
    """Writes plans for one connection."""

    def __init__(self, client: HubSpotClient, fields: HubSpotFields) -> None:
        self.client = client
        self.fields = fields
        self.tasks = TaskWriter(client, fields)
        #: Deal id -> ``updatedAt`` its last successful update returned, and the values it set.
        self.stamps: dict[str, tuple[str, Props]] = {}

    def apply(self, plan: Plan) -> ApplyResult:
        """Updates, then edits of known tasks (closes, rewordings, reopens), then new tasks."""
        result = ApplyResult()
        result.results.extend(self._updates(plan.updates))
        edits = self.tasks.edit(plan)
        go, waiting = held_back(plan, edits)
        result.results.extend(edits)
        opens = [op for op in go if op.reopen_task_id is None]
        result.results.extend(self.tasks.open(opens, self._owners(opens)))
        result.results.extend(waiting)
        return result

    def _updates(self, updates: tuple[RecordUpdate, ...]) -> list[WriteResult]:
        filled = self._filled_now(updates)
        inputs: list[WriteInput] = []
        conflicts: dict[str, list[str]] = {}
        for update in updates:
            props: dict[str, str] = {}
            for change in update.changes:
                name = property_for(change.field, self.fields)
                if change.only_if_empty and name in filled.get(update.engagement_id, set()):
                    conflicts.setdefault(update.engagement_id, []).append(change.field)
                    continue
                props[name] = to_wire(change.after)
            if props:
                inputs.append(WriteInput(update.engagement_id, props))
        outcomes = batch_update(self.client, "deals", inputs)
        sent_by = {i.ref: i.properties for i in inputs}
        results = []
        for update in updates:
            skipped = conflicts.get(update.engagement_id, [])
            note = (
                f"{', '.join(skipped)} already filled in HubSpot since the pull; left as is"
                if skipped
                else ""
            )
            out = outcomes.get(update.engagement_id)
            if out is None:
                results.append(WriteResult("update", update.engagement_id, False, None, note, True))
                continue
            if out.ok and out.stamp:
                sent = sent_by[update.engagement_id]
                stored = {name: out.properties.get(name, value) for name, value in sent.items()}
                self.stamps[update.engagement_id] = (out.stamp, stored)
            message = "; ".join(m for m in (out.message, note) if m)
            results.append(
                WriteResult(
                    "update",
                    update.engagement_id,
                    out.ok,
                    update.engagement_id,
                    message,
                    bool(skipped),
                )
            )
        return results

    def _filled_now(self, updates: tuple[RecordUpdate, ...]) -> dict[str, set[str]]:
        """Deal id -> autofill properties that hold a value now (re-read just before writing)."""
        wanted = {
            property_for(c.field, self.fields)
            for u in updates
            for c in u.changes
            if c.only_if_empty
        }
        ids = [u.engagement_id for u in updates if any(c.only_if_empty for c in u.changes)]
        if not ids:
            return {}
        current = batch_read(self.client, "deals", ids, sorted(wanted))
        return {
            deal_id: {name for name in wanted if (props.get(name) or "").strip()}
            for deal_id, props in current.items()
        }

    def _owners(self, opens: list[TaskOpen]) -> dict[str, str | None]:
        """The owner of each deal that gets a task without one named (one batch read)."""
        ids = [op.engagement_id for op in opens if not op.task.owner_id]
        if not ids:
            return {}
        props = batch_read(self.client, "deals", ids, ("hubspot_owner_id",))
        return {deal_id: p.get("hubspot_owner_id") for deal_id, p in props.items()}
