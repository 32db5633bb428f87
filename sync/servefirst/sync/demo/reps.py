"""A rep at work in the CRM, through the same client library a real integration would use.

The demo must show servefirst reacting to ordinary CRM edits, so these go through
simple-salesforce and hubspot-api-client over HTTP like any user's tool would, never through
the sandbox's internals or servefirst's own connector.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import hubspot
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.objects import SimplePublicObjectInput
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox.testing import connect as salesforce_client
from servefirst.connectors.sandboxkit import RunningSandbox


class RepDesk(Protocol):
    """The three fixes a rep makes after reading their playbook tasks."""

    def agree_operational_date(self, engagement_id: str, when: dt.date) -> None: ...

    def name_sponsor(self, engagement_id: str) -> str: ...

    def write_success_criteria(self, engagement_id: str, checklist: str) -> None: ...

    def close(self) -> None: ...


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

    def close(self) -> None:
        """Nothing to release: the client's pool holds no TLS session to the sandbox."""


def rep_for(crm: str, sandbox: RunningSandbox) -> RepDesk:
    return SalesforceRep(sandbox) if crm == "salesforce" else HubSpotRep(sandbox)
