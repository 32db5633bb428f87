"""The Salesforce connector: the ``Connector`` seam over one org, wired from small parts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from servefirst.config.settings import SalesforceConnection
from servefirst.connectors.base import (
    ApiCalls,
    ApplyResult,
    Plan,
    ProvisionReport,
    PullWindow,
    UnmappableRecord,
)
from servefirst.connectors.preflight import missing_stage_targets
from servefirst.connectors.salesforce import soql
from servefirst.connectors.salesforce.apply import Writer
from servefirst.connectors.salesforce.client import SalesforceClient
from servefirst.connectors.salesforce.mapping import SalesforceMapping, record_url
from servefirst.connectors.salesforce.provision import Provisioner
from servefirst.connectors.salesforce.pull import Puller
from servefirst.connectors.salesforce.retry import RetryPolicy
from servefirst.connectors.salesforce.stages import STAGES_SOQL, active_stage_names
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError
from servefirst.playbook.model import Engagement


class SalesforceConnector:
    """One Salesforce org, seen through the neutral model.

    Nothing talks to Salesforce until the first call: constructing a connector validates the
    configuration (field names, stage map) and nothing else, so a config error surfaces before
    any request is spent.
    """

    crm = "salesforce"

    def __init__(
        self,
        name: str,
        settings: SalesforceConnection,
        playbook: Playbook,
        *,
        base_dir: Path,
        retry: RetryPolicy | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.playbook = playbook
        self.mapping = SalesforceMapping.build(settings, playbook)
        # Builds the pull query once now, so a bad field name fails here with a ConfigError.
        soql.OpportunityQuery(self.mapping.fields, self.mapping.sponsor_role).select()
        self.client = SalesforceClient(name, settings, base_dir=base_dir, retry=retry)
        overlap = (
            soql.DEFAULT_OVERLAP
            if settings.incremental_overlap_seconds is None
            else dt.timedelta(seconds=settings.incremental_overlap_seconds)
        )
        self._puller = Puller(self.client, self.mapping, overlap=overlap, batch_size=batch_size)
        self._writer = Writer(self.client, self.mapping, playbook)
        self._stages_checked = False

    def provision(self, playbook: Playbook, *, dry_run: bool) -> ProvisionReport:
        """Plan (and unless ``dry_run`` apply) fields, permissions, rule and stage checks."""
        mapping = SalesforceMapping.build(self.settings, playbook)
        return Provisioner(self.client, self.settings, mapping).run(playbook, dry_run=dry_run)

    def pull(self, window: PullWindow) -> Iterator[Engagement | UnmappableRecord]:
        """Engagements the window asks for, page by page (see ``pull.Puller``).

        A connection with an explicit ``stage_map`` first checks, once per connector, that
        the org has every stage it names (one query): a map naming a missing stage would flag
        and unmap that stage's engagements, so the run stops with a ConfigError instead.
        """
        if self.settings.stage_map and not self._stages_checked:
            page = self.client.call("query", lambda sf: sf.query(STAGES_SOQL))
            refusal = missing_stage_targets(
                self.settings.stage_map, active_stage_names(page.get("records") or []), "the org"
            )
            if refusal is not None:
                raise ConfigError(refusal, connection=self.name)
            self._stages_checked = True
        return self._puller.pull(window)

    def apply(self, plan: Plan) -> ApplyResult:
        """Write a plan in collections of 200; per-record failures are results, not errors."""
        if plan.empty:
            return ApplyResult()
        return self._writer.apply(plan)

    def record_url(self, engagement_id: str) -> str | None:
        """The opportunity's page in Lightning Experience."""
        return record_url(self.settings.instance_url, engagement_id)

    def server_time(self) -> dt.datetime:
        """Salesforce's clock from the first response's ``Date`` header, never the local one."""
        return self.client.server_time()

    @property
    def api_calls(self) -> ApiCalls:
        return self.client.api_calls

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"SalesforceConnector({self.name!r}, {self.settings.instance_url!r})"


def connect(
    name: str,
    settings: SalesforceConnection,
    playbook: Playbook,
    *,
    base_dir: Path,
    retry: RetryPolicy | None = None,
    batch_size: int | None = None,
) -> SalesforceConnector:
    """Open the connection ``name`` of a ``servefirst.toml``; ``base_dir`` anchors its paths.

    ``retry`` (default: the settings' ``max_retries`` with backoff from 1 s up to 60 s) and
    ``batch_size`` (the query page size Salesforce is asked for, 200-2000) are for tests and
    benchmarks; the engine needs neither.
    """
    return SalesforceConnector(
        name, settings, playbook, base_dir=base_dir, retry=retry, batch_size=batch_size
    )
