"""The naive sync a hand-written script would be: list ids, then per record read, evaluate, write.

It uses the same client libraries (simple-salesforce, hubspot-api-client), the same mapping and
the same playbook evaluation as servefirst, but one read and one write call per engagement, no
diff (every record is written) and no incremental window. Its call count is a *lower bound* for
such a script: it writes no tasks, and on HubSpot it evaluates without the sponsor and task
reads a correct script would add per deal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

from servefirst.config.settings import HubSpotConnection, SalesforceConnection, Settings
from servefirst.connectors.base import PLUGIN_FIELDS
from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement


def _values(engagement: Engagement, playbook: Playbook, as_of: dt.date) -> dict[str, object]:
    desired = evaluate(engagement, playbook, as_of).desired
    if desired is None:
        return {}
    return {name: getattr(desired, name) for name in PLUGIN_FIELDS}


def run(settings: Settings, playbook: Playbook, as_of: dt.date) -> dict[str, int]:
    """One naive pass over the only connection; returns records read and written."""
    _, conn = settings.connection(None)
    if isinstance(conn, SalesforceConnection):
        return _salesforce(settings, conn, playbook, as_of)
    return _hubspot(settings, conn, playbook, as_of)


def _salesforce(
    settings: Settings, conn: SalesforceConnection, playbook: Playbook, as_of: dt.date
) -> dict[str, int]:
    from simple_salesforce.api import Salesforce, SFType  # noqa: PLC0415 - only the CRM in use

    from servefirst.connectors.salesforce import soql  # noqa: PLC0415
    from servefirst.connectors.salesforce.mapping import SalesforceMapping  # noqa: PLC0415
    from servefirst.connectors.salesforce.sandbox import client_session  # noqa: PLC0415

    assert conn.auth.access_token is not None  # noqa: S101 - the sandbox config uses a token
    assert conn.ca_bundle is not None  # noqa: S101
    token = conn.auth.access_token.reveal(settings.base_dir, "token").get_secret_value()
    sf = Salesforce(
        instance_url=conn.instance_url,
        session_id=token,
        version=conn.api_version,
        session=client_session(conn.ca_bundle),
    )
    mapping = SalesforceMapping.build(conn, playbook)
    query = soql.OpportunityQuery(mapping.fields, mapping.sponsor_role)
    opportunity = cast(SFType, sf.Opportunity)
    ids = [str(r["Id"]) for r in sf.query_all_iter("SELECT Id FROM Opportunity")]
    read = written = 0
    for record_id in ids:
        record = sf.query(soql.by_ids(query, [record_id]))["records"][0]
        read += 1
        values = _values(mapping.to_engagement(record), playbook, as_of)
        if values:
            opportunity.update(record_id, mapping.write_values(values))
            written += 1
    return {"read": read, "written": written}


def _hubspot_ids(api: Any, pipeline: str) -> Iterator[str]:
    after: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": 100, "properties": ["pipeline"]}
        if after:
            kwargs["after"] = after
        page = api.get_page(**kwargs)
        for deal in page.results:
            if (deal.properties or {}).get("pipeline") == pipeline:
                yield str(deal.id)
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return


def _hubspot(
    settings: Settings, conn: HubSpotConnection, playbook: Playbook, as_of: dt.date
) -> dict[str, int]:
    import hubspot  # noqa: PLC0415 - only the CRM in use
    from hubspot.crm.deals import SimplePublicObjectInput  # noqa: PLC0415

    from servefirst.connectors.hubspot import connect  # noqa: PLC0415
    from servefirst.connectors.hubspot.mapping import (  # noqa: PLC0415
        DealBundle,
        deal_properties,
        deal_to_engagement,
        update_properties,
    )

    connector = connect("naive", conn, playbook, base_dir=settings.base_dir)
    mapping = connector.stage_mapping()  # the naive script needs stage ids too: one call
    connector.close()
    token = conn.token.reveal(settings.base_dir, "token").get_secret_value()
    client = hubspot.Client.create(access_token=token, host=conn.base_url.rstrip("/"))
    api = client.crm.deals.basic_api
    properties = deal_properties(conn.fields)
    read = written = 0
    for deal_id in list(_hubspot_ids(api, mapping.pipeline.id)):
        deal = api.get_by_id(deal_id, properties=properties)
        read += 1
        bundle = DealBundle(id=deal_id, properties=dict(deal.properties or {}))
        engagement = deal_to_engagement(bundle, mapping, conn.fields)
        values = _values(engagement, playbook, as_of) if engagement is not None else {}
        if values:
            props = update_properties(values, conn.fields)
            api.update(deal_id, SimplePublicObjectInput(properties=props))
            written += 1
    return {"read": read, "written": written}
