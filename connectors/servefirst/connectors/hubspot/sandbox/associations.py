"""Associations v4: the type catalogue (defaults and user-defined labels) and the edges.

Every edge is stored in both directions, each with its own type ids, because HubSpot answers
``contacts -> deals`` reads with the inverse type ids (deal->contact 3 reads back as
contact->deal 4). Associating with a label also creates the unlabelled default association,
as HubSpot does, so a labelled contact always counts as an associated contact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from servefirst.connectors.hubspot.sandbox.errors import ApiError, conflict, validation

HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
USER_DEFINED = "USER_DEFINED"

#: (from, to) -> HubSpot's default (unlabelled) association type id.
DEFAULT_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("contacts", "tasks"): 203,
    ("tasks", "contacts"): 204,
    ("companies", "tasks"): 191,
    ("tasks", "companies"): 192,
    ("deals", "tasks"): 215,
    ("tasks", "deals"): 216,
    ("contacts", "notes"): 201,
    ("notes", "contacts"): 202,
    ("companies", "notes"): 189,
    ("notes", "companies"): 190,
    ("deals", "notes"): 213,
    ("notes", "deals"): 214,
}

#: HubSpot-defined labelled types: (from, to) -> (type id, inverse type id, label).
PRIMARY_TYPES: dict[tuple[str, str], tuple[int, int, str]] = {
    ("deals", "companies"): (5, 6, "Primary"),
    ("companies", "deals"): (6, 5, "Primary"),
    ("contacts", "companies"): (1, 2, "Primary"),
    ("companies", "contacts"): (2, 1, "Primary"),
}

FIRST_USER_TYPE_ID = 100


@dataclass
class Label:
    """One direction of a user-defined association label."""

    type_id: int
    inverse_id: int
    from_type: str
    to_type: str
    name: str
    label: str


class AssociationSchema:
    """Which association types exist between two object types, and their inverses."""

    def __init__(self) -> None:
        self.labels: dict[int, Label] = {}
        self.next_id = FIRST_USER_TYPE_ID

    def spec(self, from_type: str, to_type: str, type_id: int) -> tuple[str, int, str | None]:
        """(category, type id, label) of a type valid for this pair; 400 otherwise."""
        if DEFAULT_TYPES.get((from_type, to_type)) == type_id:
            return HUBSPOT_DEFINED, type_id, None
        primary = PRIMARY_TYPES.get((from_type, to_type))
        if primary and primary[0] == type_id:
            return HUBSPOT_DEFINED, type_id, primary[2]
        label = self.labels.get(type_id)
        if label and (label.from_type, label.to_type) == (from_type, to_type):
            return USER_DEFINED, type_id, label.label
        raise validation(
            f"association type id {type_id} doesn't exist between {from_type} and {to_type}"
        )

    def check(self, from_type: str, to_type: str, category: str, type_id: int) -> int:
        """Validates one requested ``{associationCategory, associationTypeId}``."""
        actual, _, _ = self.spec(from_type, to_type, type_id)
        if actual != category:
            raise validation(
                f"association type {type_id} between {from_type} and {to_type} is {actual}, "
                f"not {category}"
            )
        return type_id

    def default(self, from_type: str, to_type: str) -> int:
        try:
            return DEFAULT_TYPES[(from_type, to_type)]
        except KeyError:
            raise validation(f"no default association from {from_type} to {to_type}") from None

    def inverse(self, from_type: str, to_type: str, type_id: int) -> int:
        if DEFAULT_TYPES.get((from_type, to_type)) == type_id:
            return DEFAULT_TYPES[(to_type, from_type)]
        primary = PRIMARY_TYPES.get((from_type, to_type))
        if primary and primary[0] == type_id:
            return primary[1]
        return self.labels[type_id].inverse_id

    def target_type(self, from_type: str, type_id: int) -> str:
        """The object type a type id points to from ``from_type`` (inline associations)."""
        for (a, b), default_id in DEFAULT_TYPES.items():
            if a == from_type and default_id == type_id:
                return b
        for (a, b), (primary_id, _, _) in PRIMARY_TYPES.items():
            if a == from_type and primary_id == type_id:
                return b
        label = self.labels.get(type_id)
        if label and label.from_type == from_type:
            return label.to_type
        raise validation(f"association type id {type_id} is not valid from {from_type}")

    def pair_types(self, from_type: str, to_type: str) -> list[tuple[str, int, str | None]]:
        """All types from ``from_type`` to ``to_type``, defaults first (the labels listing)."""
        found: list[tuple[str, int, str | None]] = []
        if (from_type, to_type) in DEFAULT_TYPES:
            found.append((HUBSPOT_DEFINED, DEFAULT_TYPES[(from_type, to_type)], None))
        if (from_type, to_type) in PRIMARY_TYPES:
            type_id, _, text = PRIMARY_TYPES[(from_type, to_type)]
            found.append((HUBSPOT_DEFINED, type_id, text))
        found.extend(
            (USER_DEFINED, lab.type_id, lab.label)
            for lab in self.labels.values()
            if (lab.from_type, lab.to_type) == (from_type, to_type)
        )
        return found

    def create_label(
        self, from_type: str, to_type: str, name: str, label: str, inverse_label: str | None
    ) -> tuple[Label, Label]:
        """A new label pair; 409 when the pair already has that name or label."""
        if (from_type, to_type) not in DEFAULT_TYPES:
            raise validation(f"{from_type} and {to_type} cannot be associated")
        if not name or not label:
            raise validation("a label needs a non-empty `name` and `label`")
        for existing in self.labels.values():
            if (existing.from_type, existing.to_type) == (from_type, to_type) and (
                existing.name == name or existing.label == label
            ):
                raise conflict(
                    f"An association label named {name!r} ({label!r}) already exists between "
                    f"{from_type} and {to_type} (typeId {existing.type_id}).",
                    category="CONFLICT",
                )
        forward_id, inverse_id = self.next_id, self.next_id + 1
        self.next_id += 2
        forward = Label(forward_id, inverse_id, from_type, to_type, name, label)
        back = Label(inverse_id, forward_id, to_type, from_type, name, inverse_label or label)
        self.labels[forward_id] = forward
        self.labels[inverse_id] = back
        return forward, back

    def user_label(self, from_type: str, to_type: str, type_id: int) -> Label:
        label = self.labels.get(type_id)
        if label is None or (label.from_type, label.to_type) != (from_type, to_type):
            raise ApiError(
                404, "OBJECT_NOT_FOUND", f"no label {type_id} between {from_type} and {to_type}"
            )
        return label


#: (object type, id) -> target object type -> target id -> type ids.
Edges = dict[tuple[str, int], dict[str, dict[int, set[int]]]]


class AssociationStore:
    """Association edges, kept in both directions."""

    def __init__(self, schema: AssociationSchema) -> None:
        self.schema = schema
        self.edges: Edges = {}

    def add(self, a_type: str, a_id: int, b_type: str, b_id: int, type_ids: Iterable[int]) -> bool:
        """Adds types (and their inverses); True when the pair was not associated before."""
        forward = self.edges.setdefault((a_type, a_id), {}).setdefault(b_type, {})
        backward = self.edges.setdefault((b_type, b_id), {}).setdefault(a_type, {})
        is_new = b_id not in forward
        wanted = set(type_ids)
        if any(self.schema.spec(a_type, b_type, t)[0] != HUBSPOT_DEFINED for t in wanted):
            wanted.add(self.schema.default(a_type, b_type))
        forward.setdefault(b_id, set()).update(wanted)
        backward.setdefault(a_id, set()).update(
            self.schema.inverse(a_type, b_type, t) for t in wanted
        )
        return is_new

    def remove(
        self, a_type: str, a_id: int, b_type: str, b_id: int, type_ids: Iterable[int] | None = None
    ) -> bool:
        """Removes some types (all when None, or when the default type is among them, as
        HubSpot does); True when the pair is no longer associated."""
        forward = self.edges.get((a_type, a_id), {}).get(b_type, {})
        backward = self.edges.get((b_type, b_id), {}).get(a_type, {})
        if b_id not in forward:
            return False
        if type_ids is None:
            forward.pop(b_id, None)
            backward.pop(a_id, None)
            return True
        drop = set(type_ids)
        if DEFAULT_TYPES.get((a_type, b_type)) in drop:
            drop = set(forward[b_id])  # no labelled association outlives the unlabelled one
        forward[b_id] -= drop
        backward[a_id] -= {self.schema.inverse(a_type, b_type, t) for t in drop}
        if not forward[b_id]:
            forward.pop(b_id, None)
            backward.pop(a_id, None)
            return True
        return False

    def targets(self, a_type: str, a_id: int, b_type: str) -> dict[int, set[int]]:
        return self.edges.get((a_type, a_id), {}).get(b_type, {})

    def drop_record(self, a_type: str, a_id: int) -> list[tuple[str, int]]:
        """Forgets a record's edges (it was archived); returns the records it touched."""
        touched: list[tuple[str, int]] = []
        for b_type, targets in self.edges.pop((a_type, a_id), {}).items():
            for b_id in targets:
                self.edges.get((b_type, b_id), {}).get(a_type, {}).pop(a_id, None)
                touched.append((b_type, b_id))
        return touched
