"""An evaluated engagement as the state store keeps it for reports.

Built from what the run already holds (the pulled engagement, its assessment, its slip count and
the connector's link to the record), so that keeping snapshots costs no API call.
"""

from __future__ import annotations

import datetime as dt

from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Assessment, Engagement, Status
from servefirst.sync.state.records import EngagementSnapshot, FindingSnapshot

#: Where stages outside the playbook's own sort: after its stages, before the closed ones.
UNMAPPED_RANK = 90
_CLOSED = {Status.WON: ("Won", 100), Status.LOST: ("Lost", 101)}


def stage_of(engagement: Engagement, playbook: Playbook) -> tuple[str, int]:
    """The stage's label for people and its place in the playbook's order."""
    closed = _CLOSED.get(engagement.status)
    if closed is not None:
        return closed
    for rank, stage in enumerate(playbook.stages):
        if stage.key == engagement.stage:
            return stage.label, rank
    return engagement.raw_stage or "No stage", UNMAPPED_RANK


def snapshot_of(
    engagement: Engagement,
    assessment: Assessment,
    playbook: Playbook,
    *,
    slips: int,
    url: str | None,
    run_id: int,
    as_of: dt.date,
) -> EngagementSnapshot:
    """The snapshot of one engagement evaluated by run ``run_id``."""
    label, rank = stage_of(engagement, playbook)
    desired = assessment.desired
    timetable = desired.timetable if desired is not None else engagement.current.timetable
    return EngagementSnapshot(
        engagement_id=engagement.id,
        name=engagement.name,
        status=engagement.status.value,
        stage=engagement.stage,
        stage_label=label,
        stage_rank=rank,
        health=None if assessment.health is None else assessment.health.value,
        findings=tuple(
            FindingSnapshot(f.rule, f.severity.value, f.message) for f in assessment.findings
        ),
        slips=slips,
        account=engagement.account,
        owner_id=engagement.owner_id,
        owner_name=engagement.owner_name,
        amount=engagement.amount,
        po_date=engagement.po_date,
        operational_date=engagement.operational_date,
        timetable=timetable,
        waiver=engagement.waiver_text,
        url=url,
        run_id=run_id,
        as_of=as_of,
    )
