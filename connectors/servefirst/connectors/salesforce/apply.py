"""Writing a plan with sObject collections: 200 records a call, per-record results.

* Opportunity updates: ``PATCH composite/sobjects`` with ``allOrNone: false``, so N updated
  engagements cost ceil(N/200) write calls and one bad record never blocks the others.
* Autofill changes (a rep-owned field filled only while empty) are re-read just before writing;
  a field a rep filled since the pull wins, and the write reports ``skipped_conflict``.
* Tasks closed, and open tasks reworded because the playbook's words changed: one stream of
  collection updates by task id (``Status`` to ``Completed``; ``Subject`` and ``Description``).
* Tasks opened: ``PATCH composite/sobjects/Task/<key field>`` upserts on the deterministic task
  key, so a replay after a crash updates the task it created instead of adding another, and a
  task a rep completed while its problem persists is the same task put back to open. Opens go
  last: a problem whose task changes key never has two open tasks, even if the run stops
  between the two writes.
Per-record failures become ``WriteResult`` objects carrying Salesforce's own message; only
run-level failures (auth, budget, exhausted retries) raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_soql

from servefirst.connectors.base import (
    TASK_DESCRIPTION_MAX,
    TASK_SUBJECT_MAX,
    ApplyResult,
    Plan,
    RecordUpdate,
    TaskOpen,
    WriteResult,
    held_back,
)
from servefirst.connectors.salesforce import soql
from servefirst.connectors.salesforce.client import SalesforceClient, restful
from servefirst.connectors.salesforce.mapping import DONE_TASK_STATUS, SalesforceMapping
from servefirst.connectors.salesforce.retry import describe
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import DesiredTask, Severity

#: sObject collections accept at most this many records per request.
COLLECTION_SIZE = 200
T = TypeVar("T")


@dataclass
class _Pending:
    """One record waiting for its collection call, and where its result goes."""

    slot: int
    record: dict[str, Any]
    engagement_id: str
    skipped_conflict: bool = False
    kind: str = ""


class Writer:
    """Applies plans for one connection."""

    def __init__(
        self, client: SalesforceClient, mapping: SalesforceMapping, playbook: Playbook
    ) -> None:
        self.client = client
        self.mapping = mapping
        self.playbook = playbook

    def apply(self, plan: Plan) -> ApplyResult:
        """Write updates, then task closes and rewordings, then task opens."""
        results: list[WriteResult] = []
        results.extend(self._updates(plan.updates))
        edits = self._edit_tasks(plan)
        opens, waiting = held_back(plan, edits)
        results.extend(edits)
        results.extend(self._open_tasks(opens))
        results.extend(waiting)
        return ApplyResult(results)

    def _updates(self, updates: Sequence[RecordUpdate]) -> list[WriteResult]:
        filled = self._filled_autofill_fields(updates)
        results: list[WriteResult | None] = [None] * len(updates)
        pending: list[_Pending] = []
        for slot, update in enumerate(updates):
            conflicts = filled.get(update.engagement_id, set())
            values = {
                c.field: c.after
                for c in update.changes
                if not (c.only_if_empty and c.field in conflicts)
            }
            skipped = any(c.only_if_empty and c.field in conflicts for c in update.changes)
            try:
                fields = self.mapping.write_values(values)
            except (ValueError, TypeError) as exc:
                results[slot] = WriteResult("update", update.engagement_id, False, message=str(exc))
                continue
            if not fields:
                results[slot] = WriteResult(
                    "update",
                    update.engagement_id,
                    False,
                    crm_id=update.engagement_id,
                    message="a rep filled the field since the pull; their value stays",
                    skipped_conflict=True,
                )
                continue
            record = {"attributes": {"type": "Opportunity"}, "id": update.engagement_id, **fields}
            pending.append(_Pending(slot, record, update.engagement_id, skipped))
        self._write("update", "composite/sobjects", pending, results)
        return _filled(results)

    def _filled_autofill_fields(self, updates: Sequence[RecordUpdate]) -> dict[str, set[str]]:
        """Autofill targets that are no longer empty in Salesforce, by engagement id."""
        wanted: dict[str, set[str]] = {}
        for update in updates:
            for change in update.changes:
                if change.only_if_empty:
                    wanted.setdefault(update.engagement_id, set()).add(change.field)
        if not wanted:
            return {}
        api: dict[str, str] = {}
        for name in sorted({name for names in wanted.values() for name in names}):
            try:
                api[name] = self.mapping.field_name(name)
            except ValueError:
                continue  # not a writable field: its update fails on its own, with a message
        if not api:
            return {}
        columns = ", ".join(["Id", *api.values()])

        def build(ids: Sequence[str]) -> str:
            return format_soql(
                "SELECT {cols:literal} FROM Opportunity WHERE Id IN {ids}",
                cols=columns,
                ids=list(ids),
            )

        filled: dict[str, set[str]] = {}
        for chunk in soql.split_by_uri(list(wanted), build):
            page = self.client.call("autofill re-check", _query(build(chunk)))
            for row in page.get("records") or []:
                now = {
                    n
                    for n in wanted.get(str(row["Id"]), set())
                    if n in api and row.get(api[n]) not in (None, "")
                }
                if now:
                    filled[str(row["Id"])] = now
        return filled

    def _open_tasks(self, opens: Sequence[TaskOpen]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(opens)
        pending = [
            _Pending(
                slot,
                self.mapping.task_record(item.engagement_id, item.task, self._priority(item.task)),
                item.engagement_id,
            )
            for slot, item in enumerate(opens)
        ]
        path = f"composite/sobjects/Task/{soql.api_name(self.mapping.fields.task_key, 'task key')}"
        self._write("task_open", path, pending, results)
        return _filled(results)

    def _edit_tasks(self, plan: Plan) -> list[WriteResult]:
        """Closes and rewordings share collections: both are updates of tasks by id."""
        records: list[tuple[str, str, dict[str, Any]]] = [
            ("task_close", c.engagement_id, {"id": c.task_id, "Status": DONE_TASK_STATUS})
            for c in plan.task_closes
        ]
        records += [
            (
                "task_update",
                u.engagement_id,
                {
                    "id": u.task_id,
                    "Subject": u.subject[:TASK_SUBJECT_MAX],
                    "Description": u.description[:TASK_DESCRIPTION_MAX],
                },
            )
            for u in plan.task_updates
        ]
        results: list[WriteResult | None] = [None] * len(records)
        pending = [
            _Pending(slot, {"attributes": {"type": "Task"}, **values}, engagement, kind=kind)
            for slot, (kind, engagement, values) in enumerate(records)
        ]
        self._write("task edit", "composite/sobjects", pending, results)
        return _filled(results)

    def _priority(self, task: DesiredTask) -> str:
        """Errors are High priority for the rep, warnings Normal.

        A task group's task carries the worst severity of its findings; a task named after a
        rule is also High when that rule is an error.
        """
        definition = self.playbook.rules.get(task.rule)
        if task.severity is Severity.ERROR or (
            definition is not None and definition.severity is Severity.ERROR
        ):
            return "High"
        return "Normal"

    def _write(
        self, kind: str, path: str, pending: list[_Pending], results: list[WriteResult | None]
    ) -> None:
        """PATCH ``path`` in collections of 200; one result per pending record.

        ``kind`` names the call; each result takes its record's own kind when it has one.
        """
        for chunk in _chunks(pending, COLLECTION_SIZE):
            payload = {"allOrNone": False, "records": [p.record for p in chunk]}
            try:
                answer = self.client.call(kind, restful(path, method="PATCH", payload=payload))
            except SalesforceError as exc:
                for item in chunk:
                    results[item.slot] = WriteResult(
                        item.kind or kind, item.engagement_id, False, message=describe(exc)
                    )
                continue
            rows = answer if isinstance(answer, list) else []
            for index, item in enumerate(chunk):
                row = rows[index] if index < len(rows) else {}
                results[item.slot] = _result(item.kind or kind, item, row)


def _query(soql: str) -> Callable[[Salesforce], Any]:
    def op(sf: Salesforce) -> Any:
        return sf.query(soql)

    return op


def _result(kind: str, item: _Pending, row: dict[str, Any]) -> WriteResult:
    if row.get("success"):
        return WriteResult(
            kind,
            item.engagement_id,
            True,
            crm_id=row.get("id") or item.record.get("id"),
            message="the autofill was skipped: a rep filled the field"
            if item.skipped_conflict
            else "",
            skipped_conflict=item.skipped_conflict,
        )
    errors = row.get("errors") or [{"message": "Salesforce returned no result for this record"}]
    return WriteResult(
        kind, item.engagement_id, False, crm_id=row.get("id"), message=_messages(errors)
    )


def _messages(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        code = error.get("statusCode") or error.get("errorCode") or ""
        text = f"{code}: {error.get('message', '')}" if code else str(error.get("message", ""))
        if error.get("fields"):
            text = f"{text} (fields: {', '.join(error['fields'])})"
        parts.append(text)
    return "; ".join(parts)


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _filled(results: list[WriteResult | None]) -> list[WriteResult]:
    done = [r for r in results if r is not None]
    if len(done) != len(results):
        raise AssertionError("a write in the plan got no result")
    return done


__all__ = ["COLLECTION_SIZE", "Writer"]
