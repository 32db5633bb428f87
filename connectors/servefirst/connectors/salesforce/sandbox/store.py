"""The org's records in memory: one table per object, with the indexes queries and writes need.

Every change goes through ``put`` so the indexes (children by parent, external ids and unique
values), the transaction journal (composite ``allOrNone`` rollback), the dirty set
(persistence) and the metadata listeners (custom fields, field permissions, validation rules)
can never drift from the data. One re-entrant lock serialises HTTP handlers and in-process
seeding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from servefirst.connectors.salesforce.sandbox.ids import IdFactory
from servefirst.connectors.salesforce.sandbox.schema import FieldDef, ObjectDef, Schema
from servefirst.connectors.sandboxkit import clock as sandbox_clock

Record = dict[str, Any]
Listener = Callable[[], None]


#: A clock that reads further back than this was moved on purpose, not by a burst of stamps.
_STEP_BACK = timedelta(seconds=1)


class Clock:
    """Wall-clock UTC time at millisecond precision that never goes backwards.

    Stamps may repeat, as Salesforce's do (every record of one transaction shares its
    SystemModstamp). Making each stamp 1 ms later than the last instead would run the clock
    ahead of real time by a second per thousand records written in a burst, and records
    stamped in the future keep matching ``SystemModstamp >= <watermark>`` on later syncs.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The sandbox's clock (see ``sandboxkit.clock``: a test may shift it) in milliseconds.

        A clock set back by a test starts its never-backwards floor afresh: stamps then follow
        the shifted clock, as a real org's would.
        """
        current = sandbox_clock.now()
        current = current.replace(microsecond=current.microsecond // 1000 * 1000)
        with self._lock:
            if current >= self._last or self._last - current > _STEP_BACK:
                self._last = current
            return self._last

    def today(self) -> Any:
        return sandbox_clock.now().date()


class Store:
    """All records of the data and Tooling APIs, keyed by object then 18-character id."""

    def __init__(self, data: Schema, tooling: Schema) -> None:
        self.data = data
        self.tooling = tooling
        self.lock = threading.RLock()
        self.ids = IdFactory()
        self.clock = Clock()
        self.tables: dict[str, dict[str, Record]] = {}
        for schema in (data, tooling):
            for name in schema.objects:
                self.tables[name] = {}
        #: (child object, lookup field) -> parent id -> ordered child ids
        self._children: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
        #: (object, field) -> case-folded value -> ids, for external-id and unique fields
        self._keys: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._journal: list[tuple[str, str, Record | None]] | None = None
        self.dirty: set[tuple[str, str]] = set()
        self._listeners: dict[str, list[Listener]] = {}
        self._plans: dict[str, tuple[list[str], list[str]]] = {}
        self.reindex()

    def object(self, name: str) -> ObjectDef:
        """The definition of an object known to exist (data or tooling)."""
        found = self.data.objects.get(name) or self.tooling.objects.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def listen(self, object_name: str, listener: Listener) -> None:
        """Call ``listener`` after any change to ``object_name``'s records (metadata objects)."""
        self._listeners.setdefault(object_name, []).append(listener)

    def get(self, object_name: str, record_id: str) -> Record | None:
        return self.tables[object_name].get(record_id)

    def new_id(self, object_name: str) -> str:
        return self.ids.new(self.object(object_name).key_prefix)

    def put(self, object_name: str, record: Record, *, notify: bool = True) -> None:
        """Insert or replace a record (by its ``Id``), keeping every index in step."""
        table = self.tables[object_name]
        record_id: str = record["Id"]
        old = table.get(record_id)
        if self._journal is not None:
            self._journal.append((object_name, record_id, old))
        if old is not None:
            self._unindex(object_name, old)
        table[record_id] = record
        self._index(object_name, record)
        self.dirty.add((object_name, record_id))
        if notify:
            self._notify(object_name)

    def remove(self, object_name: str, record_id: str) -> None:
        """Forget a record entirely (rollback of an insert); deletes only set IsDeleted."""
        old = self.tables[object_name].pop(record_id, None)
        if old is None:
            return
        if self._journal is not None:
            self._journal.append((object_name, record_id, old))
        self._unindex(object_name, old)
        self.dirty.add((object_name, record_id))
        self._notify(object_name)

    def children(self, child_object: str, field: str, parent_id: str) -> list[str]:
        return list(self._children.get((child_object, field), {}).get(parent_id, ()))

    def find_by_key(self, object_name: str, field: str, value: str) -> list[str]:
        """Ids of live records whose external-id/unique ``field`` equals ``value``."""
        index = self._keys.get((object_name, field))
        if index is None:
            folded = value.casefold()
            return [
                rid
                for rid, rec in self.tables[object_name].items()
                if not rec.get("IsDeleted") and str(rec.get(field) or "").casefold() == folded
            ]
        return sorted(index.get(value.casefold(), ()))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Undo every change made inside the block if it raises (``allOrNone``)."""
        with self.lock:
            outer = self._journal
            self._journal = []
            try:
                yield
            except BaseException:
                self._rollback(self._journal)
                self._journal = outer
                raise
            if outer is not None:
                outer.extend(self._journal)
            self._journal = outer

    def _rollback(self, journal: list[tuple[str, str, Record | None]]) -> None:
        self._journal = None
        for object_name, record_id, old in reversed(journal):
            if old is None:
                self.remove(object_name, record_id)
            else:
                self.put(object_name, old)

    def _notify(self, object_name: str) -> None:
        for listener in self._listeners.get(object_name, ()):
            listener()

    def _indexed_lookups(self, obj: ObjectDef) -> list[FieldDef]:
        return [d for d in obj.fields.values() if d.child_relationship]

    def _keyed(self, obj: ObjectDef) -> list[FieldDef]:
        return [d for d in obj.fields.values() if d.external_id or d.unique]

    def reindex(self) -> None:
        """Rebuild every index (after metadata changes such as a new external-id field)."""
        self._children = {}
        self._keys = {}
        self._plans = {}
        for schema in (self.data, self.tooling):
            for obj in schema.objects.values():
                lookups = [d.name for d in self._indexed_lookups(obj)]
                keys = [d.name for d in self._keyed(obj)]
                self._plans[obj.name] = (lookups, keys)
                for name in lookups:
                    self._children[(obj.name, name)] = {}
                for name in keys:
                    self._keys[(obj.name, name)] = {}
                for record in self.tables[obj.name].values():
                    self._index(obj.name, record)

    def _index(self, object_name: str, record: Record) -> None:
        lookups, keys = self._plans[object_name]
        record_id = record["Id"]
        for name in lookups:
            parent = record.get(name)
            if parent:
                self._children[(object_name, name)].setdefault(parent, {})[record_id] = None
        if record.get("IsDeleted"):
            return
        for name in keys:
            value = record.get(name)
            if value is not None and value != "":
                self._keys[(object_name, name)].setdefault(str(value).casefold(), set()).add(
                    record_id
                )

    def _unindex(self, object_name: str, record: Record) -> None:
        lookups, keys = self._plans[object_name]
        record_id = record["Id"]
        for name in lookups:
            parent = record.get(name)
            if parent:
                self._children[(object_name, name)].get(parent, {}).pop(record_id, None)
        for name in keys:
            value = record.get(name)
            if value is not None and value != "":
                self._keys[(object_name, name)].get(str(value).casefold(), set()).discard(record_id)
