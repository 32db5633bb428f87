"""The HubSpot connector: one portal behind the ``Connector`` seam of ``connectors.base``.

It wires the parts together (client, pull, apply, provisioning) and resolves, once per
instance, the pipeline whose stages map onto the playbook: that single read is the only fixed
cost of a sync, so an incremental sync of a portal where nothing changed costs two calls.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from servefirst.config.settings import HubSpotConnection
from servefirst.connectors.base import (
    ApiCalls,
    ApplyResult,
    Plan,
    ProvisionReport,
    PullWindow,
    UnmappableRecord,
)
from servefirst.connectors.budget import process_limiter
from servefirst.connectors.hubspot.apply import Writer
from servefirst.connectors.hubspot.client import HubSpotClient
from servefirst.connectors.hubspot.limits import Pacer, budget_key
from servefirst.connectors.hubspot.mapping import CRM, StageMapping, record_url
from servefirst.connectors.hubspot.provision import Provisioner
from servefirst.connectors.hubspot.pull import DealReader
from servefirst.connectors.hubspot.records import OwnerDirectory, find_pipeline
from servefirst.connectors.hubspot.search import INDEX_LAG_OVERLAP
from servefirst.connectors.hubspot.stamps import content_stamp
from servefirst.connectors.preflight import missing_stage_targets
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError
from servefirst.playbook.model import Engagement

log = logging.getLogger(__name__)


class HubSpotConnector:
    """One HubSpot portal. Build it with ``connect``."""

    crm = CRM

    def __init__(
        self,
        name: str,
        settings: HubSpotConnection,
        playbook: Playbook,
        client: HubSpotClient,
    ) -> None:
        self.name = name
        self.settings = settings
        self.playbook = playbook
        self.client = client
        self.owners = OwnerDirectory(client)
        overlap = (
            INDEX_LAG_OVERLAP
            if settings.incremental_overlap_seconds is None
            else dt.timedelta(seconds=settings.incremental_overlap_seconds)
        )
        self.reader = DealReader(
            client, settings.fields, settings.sponsor_label, self.owners, overlap
        )
        self.writer = Writer(client, settings.fields)
        self._mapping: StageMapping | None = None

    def __repr__(self) -> str:
        return f"HubSpotConnector(name={self.name!r}, pipeline={self.settings.pipeline!r})"

    def provision(self, playbook: Playbook, *, dry_run: bool) -> ProvisionReport:
        """Plan (and unless ``dry_run`` apply) what the portal needs for ``playbook``."""
        report = Provisioner(self.client, self.settings).run(playbook, dry_run=dry_run)
        if not dry_run:
            self._mapping = None  # stages may have been created: resolve them again
        return report

    def pull(self, window: PullWindow) -> Iterator[Engagement | UnmappableRecord]:
        """Engagements of the configured pipeline in ``window``, page by page."""
        return self.reader.pull(window, self.stage_mapping())

    def apply(self, plan: Plan) -> ApplyResult:
        """Write ``plan``; per-record failures are results, not exceptions."""
        if plan.empty:
            return ApplyResult()
        return self.writer.apply(plan)

    def recall_stamps(self, stamps: Mapping[str, str]) -> None:
        """Each deal's stamp as earlier runs saw or wrote it (see ``pull`` and ``stamps``)."""
        self.reader.known = dict(stamps)

    def take_stamps(self, record_ids: Iterable[str]) -> dict[str, str]:
        """What these deals carry after this run read them and maybe wrote them.

        The ``updatedAt`` of the write (else of the read), with a digest of the properties as
        read, this run's writes laid over: a rep's edit that landed between the read and the
        write is then told apart from servefirst's own write at the next run.
        """
        stamps: dict[str, str] = {}
        for deal_id in record_ids:
            written = self.writer.stamps.pop(deal_id, None)
            read = self.reader.read.pop(deal_id, None)
            if read is None:
                continue
            stamp, values = written if written is not None else (read[0], {})
            merged = {**read[1], **values}
            stamps[deal_id] = content_stamp(stamp, merged, self.reader.properties)
        return stamps

    def stage_mapping(self) -> StageMapping:
        """The configured pipeline and how its stages map to playbook stages (read once)."""
        if self._mapping is None:
            pipeline = find_pipeline(self.client, self.settings.pipeline)
            if pipeline is None:
                raise ConfigError(
                    f"HubSpot has no deal pipeline labelled {self.settings.pipeline!r}: run "
                    "`servefirst provision`, or set `pipeline` to an existing pipeline",
                    connection=self.name,
                )
            refusal = missing_stage_targets(
                self.settings.stage_map,
                [s.label for s in pipeline.stages],
                f"pipeline '{pipeline.label}'",
            )
            if refusal is not None:
                raise ConfigError(refusal, connection=self.name)
            self._mapping = StageMapping.build(pipeline, self.playbook, self.settings.stage_map)
            missing = self._mapping.missing_keys(self.playbook)
            if missing:
                log.warning(
                    "connection %s: no stage of pipeline %r maps to playbook stage(s) %s; "
                    "run `servefirst provision` or set stage_map",
                    self.name,
                    pipeline.label,
                    ", ".join(missing),
                )
        return self._mapping

    def record_url(self, engagement_id: str) -> str | None:
        """The deal's page in HubSpot, when the connection names its portal id."""
        return record_url(self.settings.app_url, self.settings.portal_id, engagement_id)

    def server_time(self) -> dt.datetime:
        """HubSpot's clock from the first reply's ``Date`` header, never the local one.

        Before any request, reading the pipeline (which the pull needs anyway, and keeps) is
        the request whose reply tells the time: asking for the clock costs no extra call.
        """
        self.stage_mapping()
        return self.client.server_time()

    @property
    def api_calls(self) -> ApiCalls:
        return self.client.calls

    def close(self) -> None:
        self.client.close()


def connect(
    name: str,
    settings: HubSpotConnection,
    playbook: Playbook,
    *,
    base_dir: Path,
    client_side_validation: bool = False,
    pacer: Pacer | None = None,
) -> HubSpotConnector:
    """Open the HubSpot connection ``name``: reads its token (env or file), makes no request.

    ``client_side_validation`` makes hubspot-api-client check required fields and enums of
    every model; tests turn it on against the sandbox. ``pacer`` replaces the default pacing
    (the portal's limits with ``api_budget_share``), e.g. for a benchmark that measures calls
    rather than wall time.
    """
    token = settings.token.reveal(base_dir, f"connection {name}: token")
    ca_bundle = settings.ca_bundle
    if ca_bundle is not None and not ca_bundle.is_absolute():
        ca_bundle = base_dir / ca_bundle
    client = HubSpotClient(
        token=token,
        base_url=settings.base_url,
        connection=name,
        timeout_seconds=settings.timeout_seconds,
        max_retries=settings.max_retries,
        pacer=pacer
        or Pacer(
            settings.api_budget_share, limiter=process_limiter(), key=budget_key(name, settings)
        ),
        client_side_validation=client_side_validation,
        ca_bundle=ca_bundle,
    )
    return HubSpotConnector(name, settings, playbook, client)
