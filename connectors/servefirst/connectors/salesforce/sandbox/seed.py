"""Seed data: a deterministic demo org, and N engagements for benchmarks.

The demo (for a given today) has owners, accounts, contacts with roles and ~40 opportunities
in every stage, with a realistic share of playbook violations: missing or infeasible
Operational Dates, dates before the PO or already past, missing sponsors or success criteria,
won engagements never confirmed. It is written through the validating writer (so the seed
itself obeys the org's rules, except validation rules: the data predates them).

Benchmark engagements are inserted straight into the store (100,000 in seconds): one account
per ten engagements, one contact each, a sponsor role on most.
If the playbook's custom fields are missing, both first create them with field-level security,
the way provisioning would.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from servefirst.config.settings import SalesforceFields
from servefirst.connectors.base import DEFAULT_APPROVERS
from servefirst.connectors.salesforce.fields import field_specs
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.store import Record
from servefirst.connectors.salesforce.waiver import permission_set_name

OWNERS = (
    ("Ava", "Martin"),
    ("Noah", "Bernard"),
    ("Mia", "Dubois"),
    ("Liam", "Thomas"),
    ("Zoe", "Robert"),
    ("Ethan", "Petit"),
)
ACCOUNTS = (
    "Acme Tensile",
    "Borealis Metals",
    "Cobalt Composites",
    "Delta Polymers",
    "Everest Castings",
    "Fjord Aerospace",
    "Granite Labs",
    "Helix Medical Devices",
    "Ion Batteries",
    "Juniper Packaging",
    "Krypton Optics",
    "Lumen Automotive",
    "Meridian Rail",
    "Nimbus Textiles",
    "Orion Wind",
    "Pioneer Fasteners",
    "Quartz Semiconductors",
    "Redwood Timber",
    "Summit Plastics",
    "Titan Cables",
)
FIRST_NAMES = ("Claire", "Marc", "Sofia", "Jonas", "Ines", "Hugo", "Lena", "Omar", "Julia", "Tom")
LAST_NAMES = ("Keller", "Moreau", "Rossi", "Novak", "Silva", "Berg", "Laurent", "Costa", "Weber")
TITLES = ("VP Operations", "Quality Manager", "Plant Director", "CFO", "Lab Manager", "Engineer")
PROJECTS = ("Test Lab Upgrade", "Line Automation", "Quality Program", "Capacity Expansion")
CRITERIA = (
    "- [ ] Cut tensile test setup from 40 to 10 minutes\n- [ ] Zero retests per week",
    "- [x] Scrap rate below 2%\n- [ ] Audit passed without findings",
    "- [ ] Throughput +15% on line 3",
)
#: The open/closed stage shares of the demo, for the servefirst stage set; other stage sets
#: spread the same count over their stages in order.
DEMO_SCENARIOS = (
    "healthy",
    "missing_od",
    "healthy",
    "od_before_po",
    "missing_sponsor",
    "healthy",
    "od_past",
    "missing_criteria",
    "po_past",
    "healthy",
)
DEMO_OPPORTUNITIES = 40


def _project(index: int) -> str:
    """Project names vary so that no two demo opportunities share a name."""
    return PROJECTS[(index // len(ACCOUNTS) + index) % len(PROJECTS)]


class Seeder:
    """Seeds one org; every method returns the counts of records it created."""

    def __init__(self, org: Org) -> None:
        self.org = org

    def ensure_fields(self) -> int:
        """Create the playbook's custom fields and grant the integration user access.

        The fields come from the connector's own ``field_specs`` (playbook.md's default names),
        so a seeded org is exactly what provisioning would leave behind and ``servefirst
        provision`` finds nothing to change. Each field goes on the first of its tables this
        org models (the sandbox keeps Task fields on Task, not Activity).
        """
        org = self.org
        created = 0
        existing = {
            f"{r['TableEnumOrId']}.{r['DeveloperName']}__c".lower()
            for r in org.store.tables["CustomField"].values()
            if not r.get("IsDeleted")
        }
        granted = {
            str(r.get("Field")).lower()
            for r in org.store.tables["FieldPermissions"].values()
            if not r.get("IsDeleted") and r.get("ParentId") == org.permission_set_id
        }
        for spec in field_specs(SalesforceFields()):
            table = next(t for t in spec.tables if t in org.store.data.objects)
            full_name = f"{table}.{spec.api_name}"
            if full_name.lower() not in existing:
                org.tooling.create(
                    "CustomField",
                    {"FullName": full_name, "Metadata": dict(spec.metadata)},
                    org.user_id,
                )
                created += 1
            for field in spec.permission_fields():
                if field.lower() not in granted:
                    self._grant(org.permission_set_id, field, edit=spec.integration_edit)
            if spec.api_name == SalesforceFields().waiver:
                self._waiver_approvers(spec.permission_fields()[0])
        return created

    def _waiver_approvers(self, field: str) -> None:
        """The permission set of the default playbook's waiver approvers, granted edit."""
        org = self.org
        who = DEFAULT_APPROVERS
        name = permission_set_name(who)
        found = org.store.find_by_key("PermissionSet", "Name", name)
        if found:
            return
        parent = self._create(
            "PermissionSet",
            {"Name": name, "Label": who, "Description": "May waive serve-first findings."},
        )
        self._grant(parent, field, edit=True)

    def _grant(self, parent: str, field: str, *, edit: bool) -> None:
        org = self.org
        org.writer.create(
            org.store.data.objects["FieldPermissions"],
            {
                "ParentId": parent,
                "SobjectType": field.split(".", maxsplit=1)[0],
                "Field": field,
                "PermissionsRead": True,
                "PermissionsEdit": edit,
            },
            org.user_id,
        )

    def _create(self, object_name: str, values: dict[str, Any]) -> str:
        obj = self.org.store.data.objects[object_name]
        return self.org.writer.create(obj, values, self.org.user_id, rules=False)

    def _owners(self) -> list[str]:
        ids = []
        for first, last in OWNERS:
            email = f"{first.lower()}.{last.lower()}@demo.servefirst.sandbox"
            found = self.org.store.find_by_key("User", "Username", email)
            ids.append(
                found[0]
                if found
                else self._create(
                    "User",
                    {
                        "Username": email,
                        "FirstName": first,
                        "LastName": last,
                        "Email": email,
                        "Alias": (first[0] + last[:4]).lower(),
                        "Title": "Account Executive",
                    },
                )
            )
        return ids

    def demo(self, today: date | None = None) -> dict[str, int]:
        """The demo org (deterministic for ``today``); nothing if it is already there."""
        today = today or self.org.store.clock.today()
        if self._has_demo():
            return {}
        rng = random.Random(20240501)  # noqa: S311 - reproducible demo data
        fields = self.ensure_fields()
        owners = self._owners()
        stages = self._stage_plan()
        counts = {"custom_fields": fields, "users": len(owners), "accounts": 0, "contacts": 0}
        counts.update(opportunities=0, contact_roles=0)
        accounts: list[tuple[str, list[str]]] = []
        for index, name in enumerate(ACCOUNTS):
            account_id = self._create(
                "Account", {"Name": name, "OwnerId": owners[index % len(owners)]}
            )
            contacts = []
            for _ in range(3):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                domain = name.lower().replace(" ", "")
                contacts.append(
                    self._create(
                        "Contact",
                        {
                            "AccountId": account_id,
                            "FirstName": first,
                            "LastName": last,
                            "Email": f"{first.lower()}.{last.lower()}@{domain}.example",
                            "Title": rng.choice(TITLES),
                        },
                    )
                )
            accounts.append((account_id, contacts))
        counts["accounts"], counts["contacts"] = len(accounts), 3 * len(accounts)
        for index in range(DEMO_OPPORTUNITIES):
            account_id, contacts = accounts[index % len(accounts)]
            stage = stages[index]
            closed_won, closed = stage == "Closed Won", stage in ("Closed Won", "Closed Lost")
            scenario = "won_unconfirmed" if closed_won and index % 2 else DEMO_SCENARIOS[index % 10]
            values, sponsor = self._engagement(rng, today, stage, closed, scenario)
            values.update(
                Name=f"{ACCOUNTS[index % len(ACCOUNTS)]} - {_project(index)}",
                AccountId=account_id,
                OwnerId=owners[index % len(owners)],
            )
            opportunity_id = self._create("Opportunity", values)
            counts["opportunities"] += 1
            roles = [("Executive Sponsor", contacts[0])] if sponsor else []
            roles.append(("Evaluator", contacts[1]))
            for role, contact_id in roles:
                self._create(
                    "OpportunityContactRole",
                    {
                        "OpportunityId": opportunity_id,
                        "ContactId": contact_id,
                        "Role": role,
                        "IsPrimary": role == "Executive Sponsor",
                    },
                )
                counts["contact_roles"] += 1
        return counts

    def _has_demo(self) -> bool:
        """The demo is seeded once per org: a second call changes nothing."""
        return any(
            a.get("Name") == ACCOUNTS[0] and not a.get("IsDeleted")
            for a in self.org.store.tables["Account"].values()
        )

    def _stage_plan(self) -> list[str]:
        """Stage of each demo opportunity: open stages evenly, then some won and lost."""
        stages = [
            r["ApiName"]
            for r in sorted(
                self.org.store.tables["OpportunityStage"].values(), key=lambda r: r["SortOrder"]
            )
        ]
        open_stages = [s for s in stages if s not in ("Closed Won", "Closed Lost")]
        plan = [open_stages[i % len(open_stages)] for i in range(30)]
        return plan + ["Closed Won"] * 6 + ["Closed Lost"] * (DEMO_OPPORTUNITIES - 36)

    def _engagement(
        self, rng: random.Random, today: date, stage: str, closed: bool, scenario: str
    ) -> tuple[dict[str, Any], bool]:
        days = timedelta
        close = today - days(rng.randint(5, 90)) if closed else today + days(rng.randint(20, 120))
        operational: date | None = close + days(rng.randint(30, 60))
        criteria: str | None = rng.choice(CRITERIA)
        sponsor = True
        if scenario == "missing_od":
            operational = None
        elif scenario == "od_before_po" and operational is not None:
            operational = close - days(10)
        elif scenario == "od_past":
            operational = today - days(5)
        elif scenario == "missing_sponsor":
            sponsor = False
        elif scenario == "missing_criteria":
            criteria = None
        elif scenario == "po_past" and not closed:
            close = today - days(7)
        elif scenario == "won_unconfirmed":
            operational = today - days(30)
        first_stage = stage == self._first_stage()
        if first_stage and scenario in ("missing_od", "missing_sponsor", "missing_criteria"):
            operational, criteria = None, None
        values: dict[str, Any] = {
            "StageName": stage,
            "CloseDate": close.isoformat(),
            "Amount": float(rng.randrange(20, 400) * 1000),
            "Operational_Date__c": operational.isoformat() if operational else None,
            "Success_Criteria__c": criteria,
            "Success_Confirmed__c": stage == "Closed Won" and scenario != "won_unconfirmed",
        }
        return values, sponsor

    def _first_stage(self) -> str:
        rows = self.org.store.tables["OpportunityStage"].values()
        return str(min(rows, key=lambda r: r["SortOrder"])["ApiName"])

    def bench(self, n: int) -> dict[str, int]:
        """``n`` benchmark engagements, inserted straight into the store."""
        if n < 0:
            raise ValueError("the number of engagements must be positive")
        self.ensure_fields()
        owners = self._owners()
        store = self.org.store
        today = store.clock.today()
        rng = random.Random(n)  # noqa: S311 - reproducible benchmark data
        start = len(store.tables["Opportunity"])
        stages = sorted(store.tables["OpportunityStage"].values(), key=lambda r: r["SortOrder"])
        now = store.clock.now()
        user = self.org.user_id
        system = {
            "IsDeleted": False,
            "CreatedDate": now,
            "CreatedById": user,
            "LastModifiedDate": now,
            "LastModifiedById": user,
            "SystemModstamp": now,
        }
        counts = {"accounts": 0, "contacts": 0, "opportunities": 0, "contact_roles": 0}
        account_id = ""
        for k in range(n):
            number = start + k
            owner = owners[number % len(owners)]
            if k % 10 == 0:
                account_id = self._put(
                    "Account",
                    {**system, "Name": f"Bench Account {number // 10:06d}", "OwnerId": owner},
                )
                counts["accounts"] += 1
            contact_id = self._put(
                "Contact",
                {
                    **system,
                    "AccountId": account_id,
                    "FirstName": "Sponsor",
                    "LastName": f"{number:06d}",
                    "Name": f"Sponsor {number:06d}",
                    "Email": f"sponsor{number}@bench.example",
                    "Title": TITLES[number % len(TITLES)],
                    "OwnerId": owner,
                },
            )
            counts["contacts"] += 1
            stage = stages[number % len(stages)]
            close = today + timedelta(days=rng.randint(-30, 150))
            operational = (
                close + timedelta(days=rng.randint(-10, 60)) if rng.random() < 0.8 else None
            )
            opportunity_id = self._put(
                "Opportunity",
                {
                    **system,
                    "Name": f"Bench Engagement {number:06d}",
                    "AccountId": account_id,
                    "OwnerId": owner,
                    "StageName": stage["ApiName"],
                    "CloseDate": close,
                    "Amount": float(rng.randrange(10, 500) * 1000),
                    "Probability": stage["DefaultProbability"],
                    "IsClosed": stage["IsClosed"],
                    "IsWon": stage["IsWon"],
                    "ForecastCategoryName": stage["ForecastCategoryName"],
                    "Operational_Date__c": operational,
                    "Success_Criteria__c": CRITERIA[number % len(CRITERIA)]
                    if rng.random() < 0.7
                    else None,
                    "Success_Confirmed__c": False,
                    "Playbook_Health__c": None,
                    "Playbook_Findings__c": None,
                    "Operational_Date_Slips__c": None,
                },
            )
            counts["opportunities"] += 1
            if rng.random() < 0.8:
                self._put(
                    "OpportunityContactRole",
                    {
                        **system,
                        "OpportunityId": opportunity_id,
                        "ContactId": contact_id,
                        "Role": "Executive Sponsor",
                        "IsPrimary": True,
                    },
                )
                counts["contact_roles"] += 1
        return counts

    def _put(self, object_name: str, values: Record) -> str:
        record_id = self.org.store.new_id(object_name)
        self.org.store.put(object_name, {"Id": record_id, **values}, notify=False)
        return record_id
