"""The portal: records, schema, pipelines, associations, owners and tokens, in memory.

All state lives in one :class:`Portal` guarded by one re-entrant lock: the HTTP handlers and
the in-process seeder (another thread) both take it, so every request sees a consistent portal.
Records are kept per object type in dicts keyed by numeric id; ids come from one counter, so
dict order is id order and listing pages need no sort. A ``version`` counter bumps on every
write so search can reuse a sorted result list while nothing changed.

Search index lag: with ``search_lag`` > 0 each write leaves the record's previous version (or
nothing, for a new record) visible to search until ``search_lag`` seconds have passed.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from servefirst.connectors.hubspot.sandbox.associations import AssociationSchema, AssociationStore
from servefirst.connectors.hubspot.sandbox.errors import ApiError, conflict, not_found
from servefirst.connectors.hubspot.sandbox.errors import property_errors as _property_errors
from servefirst.connectors.hubspot.sandbox.pipelines import Pipelines
from servefirst.connectors.hubspot.sandbox.schema import (
    OBJECT_TYPES,
    ObjectType,
    PropertyDef,
    builtin_properties,
)
from servefirst.connectors.hubspot.sandbox.wire import ValueProblemError, iso_ms, normalize, now_ms

FIRST_ID = 1_000_001
#: (object, associated object) -> the calculated count property HubSpot maintains for it.
ASSOCIATION_COUNTS = {
    ("deals", "contacts"): "num_associated_contacts",
    ("contacts", "deals"): "num_associated_deals",
}


@dataclass(slots=True)
class Record:
    """One CRM record; ``props`` holds only set values, in canonical wire form."""

    id: int
    props: dict[str, str]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None
    #: monotonic time from which search sees ``props``; before it, ``indexed``.
    visible_at: float = 0.0
    indexed: dict[str, str] | None = None
    indexed_ms: int = 0
    #: property -> [(value, epoch ms)], oldest first, for properties changed since creation;
    #: a property absent here still has the value it was created with.
    history: dict[str, list[tuple[str, int]]] | None = None

    def property_history(self, name: str) -> list[tuple[str, int]]:
        """Every value ``name`` has had, newest first (``""`` where it was cleared)."""
        changes = (self.history or {}).get(name)
        if changes is not None:
            return changes[::-1]
        value = self.props.get(name)
        return [] if value is None else [(value, self.created_ms)]

    def search_view(self, mono: float) -> dict[str, str] | None:
        """The version search sees now (None: not indexed yet)."""
        return self.props if mono >= self.visible_at else self.indexed

    def to_json(self, props: dict[str, str | None]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "properties": props,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": self.archived_ms is not None,
        }
        if self.archived_ms is not None:
            body["archivedAt"] = iso_ms(self.archived_ms)
        return body


@dataclass
class Group:
    name: str
    label: str
    display_order: int = -1
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": self.archived,
        }


@dataclass
class Table:
    """The records of one object type, live and archived, with unique-value indexes."""

    type: ObjectType
    records: dict[int, Record] = field(default_factory=dict)
    archived: dict[int, Record] = field(default_factory=dict)
    unique: dict[str, dict[str, int]] = field(default_factory=dict)
    properties: dict[str, PropertyDef] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    _ids: tuple[int, bool, list[int]] = (-1, False, [])

    def sorted_ids(self, version: int, *, archived: bool) -> list[int]:
        """Record ids in order, cached while the portal is unchanged (listing pages bisect it).

        Live ids come from one increasing counter, so dict order is already id order; archived
        records arrive in archive order and need a sort.
        """
        cached_version, cached_archived, ids = self._ids
        if (cached_version, cached_archived) != (version, archived):
            ids = sorted(self.archived) if archived else list(self.records)
            self._ids = (version, archived, ids)
        return ids

    def unique_names(self) -> list[str]:
        names = [p.name for p in self.properties.values() if p.has_unique_value]
        return [*self.type.builtin_unique, *names]


class Portal:
    """One HubSpot account's CRM data."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ids = itertools.count(FIRST_ID)
        self.version = 0
        self.search_lag = 0.0
        self.lag_until = 0.0
        #: Serve at most this many search results a page (``POST /__sandbox__/page-cap``), so a
        #: test can page through a handful of deals and change the portal between pages.
        self.page_cap: int | None = None
        #: (version, object type, query) -> sorted matching ids; see ``search``.
        self.search_cache: OrderedDict[tuple[int, str, str], list[int]] = OrderedDict()
        now = now_ms()
        self.tables: dict[str, Table] = {}
        for t in OBJECT_TYPES:
            table = Table(t, properties=builtin_properties(t.name, t.group, now))
            table.groups[t.group] = Group(t.group, f"{t.singular.title()} information", 0)
            self.tables[t.name] = table
        self.pipelines = Pipelines()
        self.pipelines.add_default(now)
        self.association_schema = AssociationSchema()
        self.associations = AssociationStore(self.association_schema)
        self.owners: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, tuple[frozenset[str], bool]] = {}

    def table(self, t: ObjectType) -> Table:
        return self.tables[t.name]

    def get(self, t: ObjectType, record_id: str, id_property: str | None = None) -> Record:
        """A live record by id (or by a unique property); 404 otherwise."""
        table = self.tables[t.name]
        if id_property and id_property != "hs_object_id":
            if id_property not in table.unique_names():
                raise ApiError(
                    400,
                    "VALIDATION_ERROR",
                    f"{id_property} is not a unique property of {t.name}; idProperty needs "
                    "a property created with hasUniqueValue=true",
                )
            found = table.unique.get(id_property, {}).get(record_id)
            if found is not None:
                return table.records[found]
            raise not_found(t.singular, record_id)
        record = table.records.get(int(record_id)) if record_id.isdigit() else None
        if record is None:
            raise not_found(t.singular, record_id)
        return record

    def allowed_options(self, t: ObjectType, prop: PropertyDef, pipeline: str) -> set[str] | None:
        if prop.name == "pipeline" and t.name == "deals":
            return {p.id for p in self.pipelines.live()}
        if prop.name == "dealstage" and t.name == "deals":
            return self.pipelines.stage_ids(pipeline)
        if prop.name == "hubspot_owner_id":
            return set(self.owners)
        return prop.option_values() if prop.type == "enumeration" else None

    def check_values(
        self, t: ObjectType, values: dict[str, Any], current: Record | None
    ) -> dict[str, str]:
        """Validated canonical values for a create or update; raises HubSpot's 400/409."""
        table = self.tables[t.name]
        if not isinstance(values, dict):
            raise ApiError(400, "VALIDATION_ERROR", "`properties` must be an object")
        old = current.props if current else {}
        pipeline = str(values.get("pipeline") or old.get("pipeline") or "default")
        problems: list[dict[str, str]] = []
        clean: dict[str, str] = {}
        for name, raw in values.items():
            prop = table.properties.get(name)
            if prop is None or prop.archived:
                problems.append(
                    {
                        "name": name,
                        "error": "PROPERTY_DOESNT_EXIST",
                        "message": f'Property "{name}" does not exist',
                    }
                )
                continue
            if prop.read_only:
                problems.append(
                    {"name": name, "error": "READ_ONLY_VALUE", "message": f"{name} is read only"}
                )
                continue
            try:
                clean[name] = normalize(
                    name,
                    prop.type,
                    prop.field_type,
                    raw,
                    self.allowed_options(t, prop, pipeline),
                )
            except ValueProblemError as problem:
                problems.append({"name": name, "error": problem.code, "message": problem.message})
        if t.name == "deals" and "pipeline" in clean and "dealstage" not in clean:
            stage = old.get("dealstage")
            if stage and stage not in self.pipelines.stage_ids(clean["pipeline"]):
                problems.append(
                    {
                        "name": "dealstage",
                        "error": "INVALID_OPTION",
                        "message": f"stage {stage} is not in pipeline {clean['pipeline']}",
                    }
                )
        if current is None:
            problems.extend(
                {"name": n, "error": "REQUIRED_PROPERTY", "message": f"{n} is required"}
                for n in t.required
                if not clean.get(n)
            )
        if problems:
            raise _property_errors(problems)
        for name in table.unique_names():
            value = clean.get(name)
            holder = table.unique.get(name, {}).get(value) if value else None
            if holder is not None and (current is None or holder != current.id):
                raise conflict(
                    f"A {t.singular} with {name}={value} already exists. Existing ID: {holder}",
                    "CONFLICT",
                )
        return clean

    def _write(
        self, t: ObjectType, record: Record, clean: dict[str, str], now: int, *, new: bool
    ) -> None:
        table = self.tables[t.name]
        mono = time.monotonic()
        if self.search_lag > 0:
            if mono >= record.visible_at:
                record.indexed = None if new else dict(record.props)
                record.indexed_ms = record.updated_ms
            record.visible_at = mono + self.search_lag
            self.lag_until = record.visible_at
        for name in table.unique_names():
            if name in clean and record.props.get(name):
                table.unique.get(name, {}).pop(record.props[name], None)
        if not new:
            self._remember(record, clean, now)
        for name, value in clean.items():
            if value == "":
                record.props.pop(name, None)
            else:
                record.props[name] = value
        for name in table.unique_names():
            if clean.get(name):
                table.unique.setdefault(name, {})[clean[name]] = record.id
        if t.name == "tasks" and "hs_task_status" in clean:
            if clean["hs_task_status"] == "COMPLETED":
                record.props.setdefault("hs_task_completion_date", iso_ms(now))
            else:
                record.props.pop("hs_task_completion_date", None)
        self.touch(t, record, now)

    @staticmethod
    def _remember(record: Record, clean: dict[str, str], now: int) -> None:
        """Keep the values an update replaces, for ``propertiesWithHistory``."""
        for name, value in clean.items():
            old = record.props.get(name)
            if old == value or (old is None and value == ""):
                continue
            history = record.history if record.history is not None else {}
            record.history = history
            if name not in history:
                history[name] = [] if old is None else [(old, record.created_ms)]
            history[name].append((value, now))

    def touch(self, t: ObjectType, record: Record, now: int) -> None:
        """Stamps a change: last-modified properties and the search cache version."""
        record.updated_ms = now
        stamp = iso_ms(now)
        for name in t.modified_props:
            record.props[name] = stamp
        self.version += 1

    def create(self, t: ObjectType, values: dict[str, Any], now: int | None = None) -> Record:
        now = now or now_ms()
        if t.name == "deals" and not values.get("pipeline"):
            values = {**values, "pipeline": "default"}
        values = {**{k: v for k, v in t.defaults if not values.get(k)}, **values}
        clean = self.check_values(t, values, None)
        record_id = next(self.ids)
        record = Record(record_id, {"hs_object_id": str(record_id)}, now, now)
        record.props[t.created_prop] = iso_ms(now)
        self._write(t, record, clean, now, new=True)
        self.tables[t.name].records[record_id] = record
        return record

    def update(self, t: ObjectType, record: Record, values: dict[str, Any]) -> Record:
        clean = self.check_values(t, values, record)
        self._write(t, record, clean, now_ms(), new=False)
        return record

    def archive(self, t: ObjectType, record: Record) -> None:
        table = self.tables[t.name]
        now = now_ms()
        table.records.pop(record.id, None)
        record.archived_ms = now
        table.archived[record.id] = record
        for name in table.unique_names():
            if record.props.get(name):
                table.unique.get(name, {}).pop(record.props[name], None)
        for other_type, other_id in self.associations.drop_record(t.name, record.id):
            self.after_association_change(other_type, other_id, t.name)
        self.version += 1

    def after_association_change(self, a_type: str, a_id: int, b_type: str) -> None:
        """Recalculates the association count HubSpot keeps on ``a`` (if any).

        HubSpot recalculates ``num_associated_contacts`` on a deal (and ``num_associated_deals``
        on a contact) when one is associated or removed, and a calculated property changing
        stamps the record's last-modified date like any other write. A label added to or removed
        from a pair that stays associated changes no count, so it stamps nothing.
        """
        count_prop = ASSOCIATION_COUNTS.get((a_type, b_type))
        record = self.tables[a_type].records.get(a_id)
        if count_prop is None or record is None:
            return
        count = str(len(self.associations.targets(a_type, a_id, b_type)))
        if record.props.get(count_prop, "0") != count:
            record.props[count_prop] = count
            self.touch(self.tables[a_type].type, record, now_ms())

    def associate(
        self, a: ObjectType, a_id: int, b: ObjectType, b_id: int, type_ids: list[int]
    ) -> None:
        """Associates two existing records and updates what HubSpot recalculates."""
        for t, record_id in ((a, a_id), (b, b_id)):
            if record_id not in self.tables[t.name].records:
                raise not_found(t.singular, str(record_id))
        if self.associations.add(a.name, a_id, b.name, b_id, type_ids):
            self.after_association_change(a.name, a_id, b.name)
            self.after_association_change(b.name, b_id, a.name)
        self.version += 1

    def disassociate(
        self, a: ObjectType, a_id: int, b: ObjectType, b_id: int, type_ids: list[int] | None
    ) -> None:
        if self.associations.remove(a.name, a_id, b.name, b_id, type_ids):
            self.after_association_change(a.name, a_id, b.name)
            self.after_association_change(b.name, b_id, a.name)
        self.version += 1
