"""Deterministic portals: the demo account and N benchmark engagements.

The demo portal is what a RevOps team that already provisioned servefirst would have: the
``serve_first`` property group and properties, the "Serve-first" pipeline, the deal->contact
``Sponsor`` label, a few owners, companies and contacts, about forty deals in the pipeline
(with a realistic share of playbook violations) and a few in HubSpot's default pipeline.
The schema comes from ``provisioned`` (the connector's own spec); whatever of it already
exists (e.g. the connector provisioned it) is reused, never duplicated. Values depend only on
the ``today`` date, so a demo run is reproducible.

Benchmark seeding writes straight into the store (no validation per value, no HTTP) so 100,000
deals with their contacts and associations take seconds.
"""

from __future__ import annotations

import datetime as dt
import random

from servefirst.connectors.hubspot.sandbox.provisioned import Schema, ensure_schema
from servefirst.connectors.hubspot.sandbox.schema import object_type
from servefirst.connectors.hubspot.sandbox.store import Portal, Record
from servefirst.connectors.hubspot.sandbox.wire import iso_ms, now_ms

OWNERS = (
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Katherine", "Johnson"),
)
COMPANIES = (
    ("Acme Testing", "acme-testing.example"),
    ("Borealis Labs", "borealis.example"),
    ("Cobalt Materials", "cobalt.example"),
    ("Delta Polymers", "delta-polymers.example"),
    ("Equinox Metals", "equinox.example"),
    ("Fjord Composites", "fjord.example"),
    ("Granite Works", "granite.example"),
    ("Helix Plastics", "helix.example"),
)
FIRST = ("Maria", "Jonas", "Lea", "Omar", "Chen", "Ines", "Pavel", "Sofia", "Tomas", "Yara")
LAST = ("Keller", "Novak", "Rossi", "Haddad", "Lin", "Silva", "Dvorak", "Moreau", "Berg", "Aziz")
TOPICS = ("lab automation", "QA analytics", "test rig")
TITLES = ("Head of Quality", "Lab Manager", "VP Operations", "Plant Director", "CTO")


def ensure_owners(portal: Portal) -> list[str]:
    now = iso_ms(now_ms())
    for i, (first, last) in enumerate(OWNERS):
        owner_id = str(70_000_001 + i)
        portal.owners.setdefault(
            owner_id,
            {
                "id": owner_id,
                "email": f"{first.lower()}.{last.lower()}@servefirst.example",
                "firstName": first,
                "lastName": last,
                "userId": 9_000_001 + i,
                "userIdIncludingInactive": 9_000_001 + i,
                "createdAt": now,
                "updatedAt": now,
                "archived": False,
                "teams": [],
                "type": "PERSON",
            },
        )
    return sorted(portal.owners)


def seed_demo(portal: Portal, today: dt.date | None = None) -> dict[str, int]:
    """The demo portal; returns counts of what was created (nothing if it is already there)."""
    today = today or dt.datetime.now(dt.UTC).date()
    rng = random.Random(today.toordinal())  # noqa: S311 - reproducible demo data
    with portal.lock:
        schema = ensure_schema(portal)
        owners = ensure_owners(portal)
        if _demo_email(0, 0) in portal.tables["contacts"].unique.get("email", {}):
            return {"owners": len(owners), "companies": 0, "contacts": 0, "deals": 0}
        deals_t, contacts_t = object_type("deals"), object_type("contacts")
        companies_t = object_type("companies")
        companies, contacts = [], []
        for c, (name, domain) in enumerate(COMPANIES):
            company = portal.create(
                companies_t, {"name": name, "domain": domain, "hubspot_owner_id": owners[c % 4]}
            )
            companies.append(company)
            for k in range(3):
                first, last = FIRST[(c + k) % 10], LAST[(c * 3 + k) % 10]
                contact = portal.create(
                    contacts_t,
                    {
                        "firstname": first,
                        "lastname": last,
                        "email": _demo_email(c, k),
                        "jobtitle": TITLES[(c + k) % len(TITLES)],
                        "company": name,
                    },
                )
                contacts.append((contact, company))
                portal.associate(contacts_t, contact.id, companies_t, company.id, [279])
        deals = 0
        for i in range(40):
            values, sponsor = _demo_deal(i, rng, today, schema, owners)
            deal = portal.create(deals_t, values)
            company = companies[i % len(companies)]
            portal.associate(deals_t, deal.id, companies_t, company.id, [341])
            people = [c for c, co in contacts if co is company]
            portal.associate(deals_t, deal.id, contacts_t, people[0].id, [3])
            if sponsor:
                portal.associate(
                    deals_t, deal.id, contacts_t, people[1].id, [schema.sponsor_type_id]
                )
            deals += 1
        for i in range(5):
            stage = ("appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon")[i % 4]
            portal.create(
                deals_t,
                {
                    "dealname": f"{COMPANIES[i][0]} - service contract renewal",
                    "pipeline": "default",
                    "dealstage": stage,
                    "amount": str(5000 + 1000 * i),
                    "closedate": f"{today + dt.timedelta(days=20 * i)}T00:00:00Z",
                    "hubspot_owner_id": owners[i % 4],
                },
            )
            deals += 1
    return {
        "owners": len(owners),
        "companies": len(companies),
        "contacts": len(contacts),
        "deals": deals,
    }


def _demo_email(company: int, k: int) -> str:
    first, last = FIRST[(company + k) % 10], LAST[(company * 3 + k) % 10]
    return f"{first.lower()}.{last.lower()}.{company}{k}@{COMPANIES[company][1]}"


def _demo_deal(
    i: int, rng: random.Random, today: dt.date, schema: Schema, owners: list[str]
) -> tuple[dict[str, str], bool]:
    """One serve-first deal; ``i`` picks which playbook rule (if any) it breaks."""
    stage = schema.labels[i % 6] if i % 8 else schema.labels[0]
    po = today + dt.timedelta(days=rng.randint(-20, 120))
    od: dt.date | None = po + dt.timedelta(days=30 + rng.randint(0, 30))
    criteria = "- Cut tensile test setup from 40 to 10 minutes\n- [ ] Zero re-tests per batch"
    confirmed = "false"
    sponsor = True
    violation = i % 7
    if violation == 1:
        od = None  # operational_date_missing
    elif violation == 2 and od is not None:
        od = po - dt.timedelta(days=10)  # operational_date_before_po
    elif violation == 3:
        od = today - dt.timedelta(days=5)  # operational_date_past
        po = od - dt.timedelta(days=40)
    elif violation == 4:
        sponsor = False  # sponsor_missing
    elif violation == 5:
        criteria = ""  # success_criteria_missing
    if stage == schema.won:
        po = today - dt.timedelta(days=90)
        od = po + dt.timedelta(days=30)
        confirmed = "true" if violation != 6 else "false"  # success_unconfirmed
    values = {
        "dealname": f"{COMPANIES[i % 8][0]} - {TOPICS[i % 3]} {i + 1}",
        "pipeline": schema.pipeline_id,
        "dealstage": schema.stages[stage],
        "amount": str(10_000 + 2_500 * (i % 9)),
        "closedate": f"{po.isoformat()}T00:00:00.000Z",
        "hubspot_owner_id": owners[i % len(owners)],
        "success_criteria": criteria,
        "success_confirmed": confirmed,
    }
    if od is not None:
        values["operational_date"] = od.isoformat()
    return values, sponsor


def seed_bench(portal: Portal, n: int, today: dt.date | None = None) -> dict[str, int]:
    """``n`` serve-first deals, each with a contact (two in three labelled Sponsor)."""
    today = today or dt.datetime.now(dt.UTC).date()
    rng = random.Random(n)  # noqa: S311 - reproducible benchmark data
    with portal.lock:
        schema = ensure_schema(portal)
        owners = ensure_owners(portal)
        now = now_ms()
        stamp = iso_ms(now)
        stage_ids = list(schema.stages.values())
        deals = portal.tables["deals"].records
        contacts = portal.tables["contacts"].records
        store = portal.associations
        for i in range(n):
            contact_id = next(portal.ids)
            contacts[contact_id] = Record(
                contact_id,
                {
                    "hs_object_id": str(contact_id),
                    "firstname": FIRST[i % 10],
                    "lastname": f"{LAST[(i // 10) % 10]} {i}",
                    "createdate": stamp,
                    "lastmodifieddate": stamp,
                    "hs_lastmodifieddate": stamp,
                    "num_associated_deals": "1",
                },
                now,
                now,
            )
            po = today + dt.timedelta(days=rng.randint(-60, 180))
            deal_id = next(portal.ids)
            props = {
                "hs_object_id": str(deal_id),
                "dealname": f"Bench engagement {i + 1}",
                "pipeline": schema.pipeline_id,
                "dealstage": stage_ids[i % 6],
                "amount": str(1000 + i % 50 * 100),
                "closedate": f"{po.isoformat()}T00:00:00.000Z",
                "hubspot_owner_id": owners[i % len(owners)],
                "createdate": stamp,
                "hs_lastmodifieddate": stamp,
                "num_associated_contacts": "1",
            }
            if i % 5:
                props["operational_date"] = (
                    po + dt.timedelta(days=rng.randint(-10, 60))
                ).isoformat()
            deals[deal_id] = Record(deal_id, props, now, now)
            types = [3, schema.sponsor_type_id] if i % 3 else [3]
            store.add("deals", deal_id, "contacts", contact_id, types)
        portal.version += 1
    return {"deals": n, "contacts": n}
