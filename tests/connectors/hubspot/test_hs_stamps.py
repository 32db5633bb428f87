"""The sync after a writing one reads only what changed: its own writes come back unread around.

Through the engine and the real hubspot-api-client against the sandbox: the first sync writes
every deal; the next one finds them all again (they were modified after its watermark) but
each still carries the ``updatedAt`` servefirst's own write returned, so no association or
task is read and nothing is evaluated twice. A deal a rep edits since is read in full, and so
is one the window asks for by id or by date, whatever its stamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import hubspot
import pytest
from hubspot.crm.deals import SimplePublicObjectInput

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Settings
from servefirst.connectors.base import PullWindow, mapped
from servefirst.connectors.hubspot.sandbox import start_sandbox
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.connectors.sandboxkit.admin import while_held
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import DateRange
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import opened_store, provision_connection, sync_connection

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[tuple[RunningSandbox, Settings, Playbook]]:
    """A demo portal provisioned and synced once (the sync that writes)."""
    sandbox = start_sandbox(workdir=tmp_path, seed="none", rate_limits=False, search_lag_seconds=0)
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        provision_connection(settings, playbook, None, dry_run=False)
        sandbox.seed("demo", 0)
        first = sync_connection(settings, playbook, None, SyncOptions(as_of=_today()))
        assert first.totals.records_updated > 0
        yield sandbox, settings, playbook
    finally:
        sandbox.stop()


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _association_reads(sandbox: RunningSandbox) -> int:
    by_endpoint: dict[str, int] = sandbox.admin.stats()["by_endpoint"]
    return sum(n for name, n in by_endpoint.items() if "associations" in name)


def test_the_sync_after_a_writing_one_reads_nothing_around_its_own_writes(
    synced: tuple[RunningSandbox, Settings, Playbook],
) -> None:
    sandbox, settings, playbook = synced
    sandbox.admin.reset_stats()
    again = sync_connection(settings, playbook, None, SyncOptions(as_of=_today()))
    assert _association_reads(sandbox) == 0
    assert again.totals.engagements_read == 0
    assert again.totals.records_updated == again.totals.tasks_opened == 0


def test_a_deal_a_rep_edited_since_is_read_in_full_and_the_rest_are_not(
    synced: tuple[RunningSandbox, Settings, Playbook],
) -> None:
    sandbox, settings, playbook = synced
    with opened_store(settings) as store:
        remembered = store.stamps.get(next(iter(settings.connections)))
    edited = sorted(remembered, key=int)[0]
    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url.rstrip("/"))
    client.crm.deals.basic_api.update(
        edited, SimplePublicObjectInput(properties={"description": "the buyer asked for a demo"})
    )
    sandbox.admin.reset_stats()
    again = sync_connection(settings, playbook, None, SyncOptions(as_of=_today()))
    assert again.totals.engagements_read == 1
    assert _association_reads(sandbox) == 3  # contacts, companies and tasks of that one deal


def test_a_full_sync_never_skips(synced: tuple[RunningSandbox, Settings, Playbook]) -> None:
    _, settings, playbook = synced
    full = sync_connection(settings, playbook, None, SyncOptions(as_of=_today(), full=True))
    assert full.totals.engagements_read == 40
    assert full.totals.records_updated == full.totals.tasks_opened == 0


def test_a_known_deal_is_read_when_asked_for_by_id_or_by_date(
    portal: Portal, prime: Playbook
) -> None:
    rep = portal.rep
    dated = rep.deal("Dated", closedate="2031-06-10T00:00:00.000Z")
    asked = rep.deal("Asked")
    rep.deal("Known")
    first = portal.connector(prime)
    ids = [e.id for e in mapped(first.pull(PullWindow()))]
    later = portal.connector(prime, incremental_overlap_seconds=0)
    later.recall_stamps(first.take_stamps(ids))
    window = PullWindow(
        modified_since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        date_ranges=(
            DateRange(field="po_date", start=dt.date(2031, 6, 10), end=dt.date(2031, 7, 1)),
        ),
        ids=(asked,),
    )
    assert sorted(e.id for e in mapped(later.pull(window))) == sorted([dated, asked])


def test_a_full_sync_forgets_the_stamps_of_deleted_deals(
    synced: tuple[RunningSandbox, Settings, Playbook],
) -> None:
    """Stamps of deals that are gone do not pile up in the state database for ever."""
    sandbox, settings, playbook = synced
    connection = next(iter(settings.connections))
    with opened_store(settings) as store:
        before = store.stamps.get(connection)
    deleted = sorted(before, key=int)[:3]
    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url.rstrip("/"))
    for deal_id in deleted:
        client.crm.deals.basic_api.archive(deal_id)
    sync_connection(settings, playbook, None, SyncOptions(as_of=_today()))  # incremental
    with opened_store(settings) as store:
        assert set(store.stamps.get(connection)) == set(before)  # it cannot know yet
    sync_connection(settings, playbook, None, SyncOptions(as_of=_today(), full=True))
    with opened_store(settings) as store:
        after = store.stamps.get(connection)
    assert set(after) == set(before) - set(deleted)
    assert all(after[i] == before[i] for i in after)


def test_a_rep_edit_landing_between_the_read_and_the_write_is_seen_by_the_next_sync(
    synced: tuple[RunningSandbox, Settings, Playbook],
) -> None:
    """The ``updatedAt`` servefirst's write returns also covers the rep's edit made just before.

    The rep moves the Operational Date while the sync's update of that deal waits at the
    portal: the write lands after the edit, and its ``updatedAt`` is newer than both. The next
    sync must still read the deal in full and show the new date in the timetable.
    """
    sandbox, settings, playbook = synced
    connection = next(iter(settings.connections))
    with opened_store(settings) as store:
        deal = sorted(store.stamps.get(connection), key=int)[0]
    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url.rstrip("/"))

    def move_date(day: str) -> None:
        client.crm.deals.basic_api.update(
            deal, SimplePublicObjectInput(properties={"operational_date": day})
        )

    move_date("2031-03-03")  # the next sync reads this deal and rewrites its timetable
    with while_held(
        sandbox.admin, 1, "/crm/v3/objects/deals/batch/update", lambda: move_date("2031-09-09")
    ):
        during = sync_connection(settings, playbook, None, SyncOptions(as_of=_today()))
    assert during.totals.records_updated >= 1
    after = sync_connection(settings, playbook, None, SyncOptions(as_of=_today()))
    assert after.totals.engagements_read >= 1
    timetable = client.crm.deals.basic_api.get_by_id(deal, properties=["playbook_timetable"])
    assert "9 Sep 2031" in str(timetable.properties["playbook_timetable"])
