"""A rep at work in the CRM, through the same client library a real integration would use.

The demo must show servefirst reacting to ordinary CRM edits, so these go through
simple-salesforce and hubspot-api-client over HTTP like any user's tool would, never through
the sandbox's internals or servefirst's own connector.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

import hubspot
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.objects import SimplePublicObjectInput
from simple_salesforce.format import format_soql

from servefirst.connectors.base import DEFAULT_APPROVERS
from servefirst.connectors.salesforce.sandbox.org import INTEGRATION_USERNAME
from servefirst.connectors.salesforce.sandbox.testing import connect as salesforce_client
from servefirst.connectors.salesforce.waiver import permission_set_name
from servefirst.connectors.sandboxkit import RunningSandbox


@dataclass(frozen=True)
class DeskTask:
    """A playbook task as the rep sees it."""

    task_id: str
    open: bool
    subject: str
    body: str


class RepDesk(Protocol):
    """What a rep (and their manager) do in the CRM after reading the playbook's work."""

    def agree_operational_date(self, engagement_id: str, when: dt.date) -> None: ...

    def name_sponsor(self, engagement_id: str) -> str: ...

    def write_success_criteria(self, engagement_id: str, checklist: str) -> None: ...

    def timetable(self, engagement_id: str) -> str | None: ...

    def playbook_tasks(self, engagement_id: str) -> list[DeskTask]: ...

    def complete_task(self, task_id: str) -> None: ...

    def waive(self, engagement_id: str, waiver: str) -> None:
        """Write the waiver field as a manager allowed to waive."""
        ...

    def close(self) -> None: ...


#: The permission set of the default playbook's waiver approvers, as provisioning creates it.
WAIVER_PERMISSION_SET = permission_set_name(DEFAULT_APPROVERS)


class SalesforceRep:
    """Edits an Opportunity and its contact roles in Salesforce."""

    def __init__(self, sandbox: RunningSandbox, sponsor_role: str = "Executive Sponsor") -> None:
        self.sf: Any = salesforce_client(sandbox)
        self.sponsor_role = sponsor_role

    def agree_operational_date(self, engagement_id: str, when: dt.date) -> None:
        self.sf.Opportunity.update(engagement_id, {"Operational_Date__c": when.isoformat()})

    def name_sponsor(self, engagement_id: str) -> str:
        opportunity = self.sf.Opportunity.get(engagement_id)
        query = format_soql(
            "SELECT Id, Name FROM Contact WHERE AccountId = {} ORDER BY Name LIMIT 1",
            opportunity["AccountId"],
        )
        contacts = (
            self.sf.query(query)["records"]
            or self.sf.query("SELECT Id, Name FROM Contact ORDER BY Name LIMIT 1")["records"]
        )
        contact = contacts[0]
        self.sf.OpportunityContactRole.create(
            {"OpportunityId": engagement_id, "ContactId": contact["Id"], "Role": self.sponsor_role}
        )
        return str(contact["Name"])

    def write_success_criteria(self, engagement_id: str, checklist: str) -> None:
        self.sf.Opportunity.update(engagement_id, {"Success_Criteria__c": checklist})

    def timetable(self, engagement_id: str) -> str | None:
        value = self.sf.Opportunity.get(engagement_id)["Playbook_Timetable__c"]
        return str(value) if value else None

    def playbook_tasks(self, engagement_id: str) -> list[DeskTask]:
        query = format_soql(
            "SELECT Id, IsClosed, Subject, Description FROM Task "
            "WHERE WhatId = {} AND ServeFirst_Key__c != null ORDER BY Subject",
            engagement_id,
        )
        return [
            DeskTask(r["Id"], not r["IsClosed"], r["Subject"] or "", r["Description"] or "")
            for r in self.sf.query(query)["records"]
        ]

    def complete_task(self, task_id: str) -> None:
        self.sf.Task.update(task_id, {"Status": "Completed"})

    def waive(self, engagement_id: str, waiver: str) -> None:
        """Only the waiver approvers' permission set may edit the field.

        The sandbox has one API user, so for this step it holds that permission set, as the
        manager's own user would in a real org.
        """
        found = self.sf.query(
            format_soql("SELECT Id FROM PermissionSet WHERE Name = {}", WAIVER_PERMISSION_SET)
        )["records"]
        me = self.sf.query(
            format_soql("SELECT Id FROM User WHERE Username = {}", INTEGRATION_USERNAME)
        )["records"][0]["Id"]
        held = self.sf.query(
            format_soql(
                "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = {} "
                "AND AssigneeId = {}",
                found[0]["Id"],
                me,
            )
        )["records"]
        if not held:
            self.sf.PermissionSetAssignment.create(
                {"PermissionSetId": found[0]["Id"], "AssigneeId": me}
            )
        self.sf.Opportunity.update(engagement_id, {"Playbook_Waiver__c": waiver})

    def close(self) -> None:
        """Drop the keep-alive connection so the sandbox can stop at once."""
        self.sf.session.close()


class HubSpotRep:
    """Edits a deal and its contact associations in HubSpot."""

    def __init__(self, sandbox: RunningSandbox, sponsor_label: str = "Sponsor") -> None:
        self.client: Any = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)
        self.deals = self.client.crm.deals.basic_api
        self.sponsor_label = sponsor_label

    def agree_operational_date(self, engagement_id: str, when: dt.date) -> None:
        body = SimplePublicObjectInput(properties={"operational_date": when.isoformat()})
        self.deals.update(engagement_id, body)

    def name_sponsor(self, engagement_id: str) -> str:
        labels = self.client.crm.associations.v4.schema.definitions_api.get_all("deals", "contacts")
        label = next(item for item in labels.results if item.label == self.sponsor_label)
        contact = self.client.crm.contacts.basic_api.create(
            SimplePublicObjectInput(
                properties={"firstname": "Priya", "lastname": "Natarajan", "jobtitle": "COO"}
            )
        )
        self.client.crm.associations.v4.basic_api.create(
            "deals",
            engagement_id,
            "contacts",
            contact.id,
            [
                AssociationSpec(
                    association_category=label.category, association_type_id=label.type_id
                )
            ],
        )
        return "Priya Natarajan"

    def write_success_criteria(self, engagement_id: str, checklist: str) -> None:
        self.deals.update(
            engagement_id, SimplePublicObjectInput(properties={"success_criteria": checklist})
        )

    def timetable(self, engagement_id: str) -> str | None:
        props = self.deals.get_by_id(engagement_id, properties=["playbook_timetable"]).properties
        return props.get("playbook_timetable") or None

    def playbook_tasks(self, engagement_id: str) -> list[DeskTask]:
        links = self.client.crm.associations.v4.basic_api.get_page(
            "deals", engagement_id, "tasks", limit=500
        )
        tasks = []
        names = ["servefirst_task_key", "hs_task_status", "hs_task_subject", "hs_task_body"]
        for link in links.results:
            task = self.client.crm.objects.tasks.basic_api.get_by_id(
                str(link.to_object_id), properties=names
            )
            props = task.properties
            if props.get("servefirst_task_key"):
                tasks.append(
                    DeskTask(
                        str(task.id),
                        props.get("hs_task_status") != "COMPLETED",
                        props.get("hs_task_subject") or "",
                        props.get("hs_task_body") or "",
                    )
                )
        return sorted(tasks, key=lambda t: t.subject)

    def complete_task(self, task_id: str) -> None:
        body = SimplePublicObjectInput(properties={"hs_task_status": "COMPLETED"})
        self.client.crm.objects.tasks.basic_api.update(task_id, body)

    def waive(self, engagement_id: str, waiver: str) -> None:
        """HubSpot's property permissions are set by an admin in the UI (a manual step)."""
        body = SimplePublicObjectInput(properties={"playbook_waiver": waiver})
        self.deals.update(engagement_id, body)

    def close(self) -> None:
        """Nothing to release: the client's pool holds no TLS session to the sandbox."""


def rep_for(crm: str, sandbox: RunningSandbox) -> RepDesk:
    return SalesforceRep(sandbox) if crm == "salesforce" else HubSpotRep(sandbox)
