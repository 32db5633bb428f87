"""Pulling engagements: deal searches page by page, with what surrounds each page's deals.

For each page of up to 200 deals the pull makes a fixed number of batch calls, never one per
deal: the v4 association reads deal->contacts, deal->companies and deal->tasks (one call each,
up to 1,000 deals), then batch reads of the sponsor contacts, the companies and the tasks (100
per call). Sponsors are the contacts associated with the configured label; open playbook tasks
are the associated tasks carrying servefirst's key property and not completed. Association
reads are consistent (unlike search), which is what makes the task list trustworthy.

An incremental pull of a portal where nothing changed costs two search calls (an empty page
of deals, and an empty page of tasks completed since the watermark) on top of the pipeline
lookup the connector makes once.

What an incremental pull cannot see: HubSpot stamps a deal's ``hs_lastmodifieddate`` when a
contact is associated or removed (the contact count changes), but not when only the *label* of
an already associated contact changes, nor when a task is associated. A rep who marks an
existing contact as sponsor is therefore seen at the deal's next change or the next full scan
(``PullWindow()``), which the scheduler should run periodically (e.g. nightly).

Reading every task around a page is consistent but costs one batch read per 100 tasks; deals
carrying many tasks of their own make a page cost more calls, never more than that.

**Calls overlap; their number does not change.** Against a real portal each call takes about
150 ms, so a page read one call after another costs the sum of seven round trips. The three
chains around a page (contacts, companies, tasks) run side by side, and the next search pages
are read ahead on their own thread (``keyset.PageReader``): a page costs its longest chain,
and the searches go out as fast as their per-second limit allows. Every call still goes
through the one pacer, so the portal's windows are respected whatever the threads do
(measured with 150 ms of latency on 2,000 deals: 16.6 s one call at a time, 11.7 s now).

**Deals that have not changed since servefirst last saw them are not read around.** Each
deal's ``updatedAt`` as last seen (read by a pull, or returned by servefirst's own batch
update) is remembered in the state store, with a digest of its properties as servefirst knew
them (``stamps``: a rep's edit that lands between servefirst's read and its write is covered
by the write's ``updatedAt``, but not by the digest). An incremental search still returns the
deals the last run wrote (they were modified after its watermark) and those the overlap
re-reads; a deal whose stamp and properties are still the remembered ones was evaluated, and
written, as it stands, so its association and task reads are skipped and it is not evaluated
again. What such a deal's
evaluation could still depend on has its own query: tasks completed since (``completed``),
the calendar (the window's date ranges) and the retry set (the window's ids) all bring a deal
back in full. A full scan never skips.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.base import PullWindow, UnmappableRecord
from servefirst.connectors.hubspot.client import HubSpotClient
from servefirst.connectors.hubspot.completed import completed_task_deals
from servefirst.connectors.hubspot.keyset import PageReader
from servefirst.connectors.hubspot.mapping import (
    CONTACT_PROPERTIES,
    TASK_PROPERTIES,
    DealBundle,
    Props,
    StageMapping,
    deal_properties,
    deal_to_engagement,
    parse_date,
    sponsor_from_contact,
)
from servefirst.connectors.hubspot.records import (
    Association,
    OwnerDirectory,
    associations,
    batch_read,
    props_of,
)
from servefirst.connectors.hubspot.search import (
    INDEX_LAG_OVERLAP,
    Group,
    page_groups,
    queries,
    search_request,
)
from servefirst.connectors.hubspot.stamps import content_stamp
from servefirst.playbook.model import Engagement

#: deal->company association type id of the primary company (HubSpot-defined).
PRIMARY_COMPANY_TYPE = 5
SEARCH_API = "crm.deals.search_api"


class DealReader:
    """Reads deals of one pipeline as engagements.

    Args:
        client: the connector's HubSpot client.
        fields: the deal property names.
        sponsor_label: the deal->contact association label that marks a sponsor.
        owners: owner names, loaded on first need.
        overlap: how far before ``modified_since`` incremental searches start (index lag).
    """

    def __init__(
        self,
        client: HubSpotClient,
        fields: HubSpotFields,
        sponsor_label: str,
        owners: OwnerDirectory,
        overlap: dt.timedelta = INDEX_LAG_OVERLAP,
    ) -> None:
        self.client = client
        self.fields = fields
        self.sponsor_label = sponsor_label
        self.owners = owners
        self.overlap = overlap
        #: Deal id -> ``updatedAt`` as of earlier runs (see ``recall``).
        self.known: dict[str, str] = {}
        #: Deal id -> ``updatedAt`` and properties of the deals this run read.
        self.read: dict[str, tuple[str, Props]] = {}
        #: The deal properties a pull reads (and a stamp digests).
        self.properties = deal_properties(fields)
        #: Deals an incremental pull left unread because their stamp was the known one.
        self.skipped = 0

    def pull(
        self, window: PullWindow, mapping: StageMapping
    ) -> Iterator[Engagement | UnmappableRecord]:
        """Yield the window's engagements, each deal once, one search page at a time.

        An incremental window also asks for the deals whose playbook task a rep completed since
        the watermark (see ``completed``): they ride along as ids. A deal whose properties
        cannot be read comes out as an ``UnmappableRecord``.
        """
        if window.modified_since is not None:
            since = window.modified_since - self.overlap
            done = completed_task_deals(self.client, self.fields.task_key, since)
            if done:
                window = replace(window, ids=tuple(dict.fromkeys((*window.ids, *done))))
        seen: set[str] = set()
        asked = frozenset(window.ids)
        properties = self.properties
        for query in queries(window, self.fields, mapping.pipeline.id, self.overlap):
            yield from self._query(query, properties, mapping, seen, window, asked)

    def _query(
        self,
        query: list[Group],
        properties: list[str],
        mapping: StageMapping,
        seen: set[str],
        window: PullWindow,
        asked: frozenset[str],
    ) -> Iterator[Engagement | UnmappableRecord]:
        """Page through one query by keyset: sorted on the id, each page after the last id read.

        Every page is the query restricted to ``hs_object_id > last id read`` (none on the
        first). ``after`` offsets would be cheaper for nobody (still one call per page) but
        shift when a deal leaves or joins the result set mid-pull and can skip one; a keyset
        never skips, since the sort is on the unique id, and it never meets the 10,000-result
        cap of one query.

        **Pages are read ahead.** A page's request needs only the previous page's last id, so
        a second thread (``PageReader``) searches up to ``READ_AHEAD_PAGES`` pages ahead, paced
        like any call, while this thread reads each page's surroundings and the engine evaluates
        and writes them. Under HubSpot's limits a sequential pull spends the searches' per-second
        budget and the ten-second window slower than both refill; read ahead, the searches go
        out as their limit allows and the windows' calls go out sooner. Only pages that exist
        are read (each reply says whether another follows), so it costs no call; a run that
        stops early waits for the page in flight and drops what was read ahead.
        """
        config = self.client.api(SEARCH_API).api_client.configuration
        with PageReader(lambda last: self._search(query, last, properties, config)) as pages:
            for page in pages:
                fresh = [r for r in page if str(r["id"]) not in seen]
                seen.update(str(r["id"]) for r in fresh)
                changed = [r for r in fresh if not self._unchanged(r, window, asked)]
                self.skipped += len(fresh) - len(changed)
                yield from self.engagements(changed, mapping)

    def _search(
        self, query: list[Group], last_id: str | None, properties: list[str], config: Any
    ) -> Any:
        """One page of ``query``: the deals after ``last_id`` (the first page without one)."""
        request = search_request(page_groups(query, last_id), properties, config)
        return self.client.call(
            "read",
            SEARCH_API,
            "do_search",
            public_object_search_request=request,
            search=True,
            raw=True,
            what="deals search",
        )

    def _unchanged(self, deal: dict[str, Any], window: PullWindow, asked: frozenset[str]) -> bool:
        """Whether an incremental pull may skip ``deal``: it still carries the known stamp.

        Never a deal the window asks for by id (retry set, date-dependent text) or by date
        range (its findings move with the calendar), nor one whose date cannot be read.
        """
        deal_id = str(deal["id"])
        stamp = deal.get("updatedAt")
        if window.modified_since is None or not stamp or deal_id in asked:
            return False
        props = props_of(deal)
        if self.known.get(deal_id) != content_stamp(str(stamp), props, self.properties):
            return False
        for date_range in window.date_ranges:
            raw = props.get(str(getattr(self.fields, date_range.field, "")))
            if not raw:
                continue
            day = parse_date(raw)
            if day is None or date_range.start <= day < date_range.end:
                return False
        return True

    def engagements(
        self, deals: Sequence[dict[str, Any]], mapping: StageMapping
    ) -> Iterator[Engagement | UnmappableRecord]:
        """Map one page of deals (raw search results), reading their surroundings in batches."""
        if not deals:
            return
        ids = [str(d["id"]) for d in deals]
        for deal in deals:
            if deal.get("updatedAt"):
                self.read[str(deal["id"])] = (str(deal["updatedAt"]), props_of(deal))
        # Three independent chains (association read, then the associated records): the
        # companies and tasks go on two more threads while this one reads the sponsors.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hubspot-around") as around:
            companies_read = around.submit(self._companies, ids)
            tasks_read = around.submit(self._tasks, ids)
            sponsor_links, sponsor_props = self._sponsors(ids)
            company_of, company_props = companies_read.result()
            tasks, task_props = tasks_read.result()
        for deal in deals:
            deal_id = str(deal["id"])
            props = props_of(deal)
            sponsors = tuple(
                sponsor_from_contact(cid, sponsor_props[cid], self.sponsor_label)
                for cid in sponsor_links.get(deal_id, [])
                if cid in sponsor_props
            )
            company_id = company_of.get(deal_id)
            account = company_props.get(company_id, {}).get("name") if company_id else None
            bundle = DealBundle(
                id=deal_id,
                properties=props,
                sponsors=sponsors,
                account=account or None,
                owner_name=self.owners.name(props.get("hubspot_owner_id")),
                tasks=tuple(
                    (a.to_id, task_props[a.to_id])
                    for a in tasks.get(deal_id, [])
                    if a.to_id in task_props
                ),
            )
            try:
                engagement = deal_to_engagement(bundle, mapping, self.fields)
            except (ValueError, TypeError, ArithmeticError) as exc:
                yield UnmappableRecord(
                    deal_id,
                    f"cannot read this deal: {exc}; fix the deal in HubSpot or the field "
                    "mapping in servefirst.toml",
                )
                continue
            if engagement is not None:
                yield engagement

    def _sponsors(self, ids: list[str]) -> tuple[dict[str, list[str]], dict[str, Props]]:
        """Each deal's sponsor contact ids, and those contacts' properties."""
        contacts = associations(self.client, "deals", "contacts", ids)
        links = {
            deal_id: [a.to_id for a in found if self.sponsor_label in a.labels]
            for deal_id, found in contacts.items()
        }
        sponsor_ids = [cid for found in links.values() for cid in found]
        if not sponsor_ids:
            return links, {}
        return links, batch_read(self.client, "contacts", sponsor_ids, CONTACT_PROPERTIES)

    def _companies(self, ids: list[str]) -> tuple[dict[str, str], dict[str, Props]]:
        """Each deal's (primary) company id, and those companies' names."""
        companies = associations(self.client, "deals", "companies", ids)
        company_of = {d: _primary(links) for d, links in companies.items() if links}
        if not company_of:
            return company_of, {}
        return company_of, batch_read(self.client, "companies", company_of.values(), ("name",))

    def _tasks(self, ids: list[str]) -> tuple[dict[str, list[Association]], dict[str, Props]]:
        """Each deal's associated tasks, and the tasks' key and status properties."""
        tasks = associations(self.client, "deals", "tasks", ids)
        task_ids = [a.to_id for links in tasks.values() for a in links]
        if not task_ids:
            return tasks, {}
        fields = (self.fields.task_key, *TASK_PROPERTIES)
        return tasks, batch_read(self.client, "tasks", task_ids, fields)


def _primary(links: list[Association]) -> str:
    """The primary company of a deal, else its first associated company."""
    return next((a.to_id for a in links if PRIMARY_COMPANY_TYPE in a.type_ids), links[0].to_id)
