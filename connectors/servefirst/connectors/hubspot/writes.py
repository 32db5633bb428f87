"""Batch writes with per-input outcomes: 100 inputs a call, 207 errors mapped back to records.

HubSpot reports a partly failed batch as 207 with one error per failed input (its ids in
``context.ids``), but answers some bad inputs (an invalid property value) by failing the
*whole* batch with a 400. One bad record must not fail 99 good ones, so a batch refused as a
whole is split in halves and each half retried, down to the single offending input: a batch
with one bad record costs about 2*log2(100) extra calls instead of 100, and good batches still
cost exactly one call per 100 inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from servefirst.connectors.hubspot.client import HubSpotClient, HubSpotRequestError
from servefirst.connectors.hubspot.records import (
    OBJECT_APIS,
    OBJECT_BATCH,
    chunks,
    props_of,
    results,
)


@dataclass(frozen=True)
class Outcome:
    """What happened to one input: ``crm_id`` of the record written, or HubSpot's message.

    ``stamp`` is the record's ``updatedAt`` after the write, and ``properties`` the values
    the reply reports (as HubSpot stored them), as HubSpot's reply gives them.
    """

    ok: bool
    crm_id: str | None = None
    message: str = ""
    category: str = ""
    stamp: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteInput:
    """One record to update (``ref`` = its id) or create (``ref`` = our key for it)."""

    ref: str
    properties: dict[str, str]
    associations: tuple[tuple[str, int], ...] = ()  # (to id, HubSpot-defined type id)


def batch_update(
    client: HubSpotClient, object_type: str, inputs: Sequence[WriteInput]
) -> dict[str, Outcome]:
    """Update records by id; outcomes by id."""
    outcomes: dict[str, Outcome] = {}
    for part in chunks(list(inputs), OBJECT_BATCH):
        _write(client, object_type, "update", part, outcomes)
    return outcomes


def batch_create(
    client: HubSpotClient, object_type: str, inputs: Sequence[WriteInput], *, key_property: str
) -> dict[str, Outcome]:
    """Create records; outcomes by ``ref``, matched through the ``key_property`` they carry.

    Creates are not retried by the client (a retried create whose first attempt reached
    HubSpot would duplicate); the caller decides how to retry safely.
    """
    outcomes: dict[str, Outcome] = {}
    for part in chunks(list(inputs), OBJECT_BATCH):
        _write(client, object_type, "create", part, outcomes, key_property=key_property)
    return outcomes


def _write(
    client: HubSpotClient,
    object_type: str,
    op: str,
    inputs: Sequence[WriteInput],
    outcomes: dict[str, Outcome],
    *,
    key_property: str = "",
) -> None:
    path, models = OBJECT_APIS[object_type]
    api = f"{path}.batch_api"

    def make(cls: Any, **values: Any) -> Any:
        return client.model(api, cls, **values)

    if op == "update":
        body = make(
            models.BatchInputSimplePublicObjectBatchInput,
            inputs=[
                make(
                    models.SimplePublicObjectBatchInput,
                    id=i.ref,
                    properties=i.properties,
                    object_write_trace_id=i.ref,
                )
                for i in inputs
            ],
        )
    else:
        body = make(
            models.BatchInputSimplePublicObjectBatchInputForCreate,
            inputs=[
                make(
                    models.SimplePublicObjectBatchInputForCreate,
                    properties=i.properties,
                    object_write_trace_id=i.ref,
                    associations=[
                        make(
                            models.PublicAssociationsForObject,
                            to=make(models.PublicObjectId, id=to_id),
                            types=[
                                make(
                                    models.AssociationSpec,
                                    association_category="HUBSPOT_DEFINED",
                                    association_type_id=type_id,
                                )
                            ],
                        )
                        for to_id, type_id in i.associations
                    ],
                )
                for i in inputs
            ],
        )
    try:
        reply = client.call(
            "write",
            api,
            op,
            body,
            create=op == "create",
            raw=True,
            what=f"{object_type} batch {op}",
        )
    except HubSpotRequestError as exc:
        if exc.status in (400, 404, 409) and len(inputs) > 1:
            middle = len(inputs) // 2
            _write(client, object_type, op, inputs[:middle], outcomes, key_property=key_property)
            _write(client, object_type, op, inputs[middle:], outcomes, key_property=key_property)
            return
        if exc.status not in (400, 404, 409):
            raise
        for i in inputs:
            outcomes[i.ref] = Outcome(False, message=exc.message, category=exc.category)
        return
    _record(reply, inputs, outcomes, key_property)


def _record(
    reply: Any, inputs: Sequence[WriteInput], outcomes: dict[str, Outcome], key_property: str
) -> None:
    """Map a (possibly 207) batch reply onto the inputs: confirmed, failed, or unconfirmed."""
    refs = {i.ref for i in inputs}
    for obj in results(reply):
        props = props_of(obj)
        ref = str(props.get(key_property) or "") if key_property else str(obj["id"])
        if ref in refs:
            outcomes[ref] = Outcome(
                True,
                crm_id=str(obj["id"]),
                stamp=str(obj.get("updatedAt") or ""),
                properties=props,
            )
    errors = reply.get("errors") if isinstance(reply, dict) else None
    for error in errors if isinstance(errors, list) else []:
        context = error.get("context") or {}
        named = [str(x) for k in ("ids", "id", "objectWriteTraceId") for x in context.get(k, [])]
        targets = [r for r in named if r in refs] or [r for r in refs if r not in outcomes]
        for ref in targets:
            outcomes[ref] = Outcome(
                False,
                message=str(error.get("message") or ""),
                category=str(error.get("category") or ""),
            )
    for ref in refs - outcomes.keys():
        outcomes[ref] = Outcome(False, message="HubSpot did not confirm this write")
