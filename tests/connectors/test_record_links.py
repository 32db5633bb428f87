"""Each connector links an engagement to its page in the CRM, without a request."""

from __future__ import annotations

from servefirst.connectors.hubspot.mapping import record_url as hubspot_url
from servefirst.connectors.salesforce.mapping import record_url as salesforce_url


def test_salesforce_links_the_opportunity_in_lightning() -> None:
    assert (
        salesforce_url("https://acme.my.salesforce.com/", "006000000000001AAA")
        == "https://acme.my.salesforce.com/lightning/r/Opportunity/006000000000001AAA/view"
    )


def test_hubspot_links_the_deal_in_its_portal_only_when_the_portal_is_known() -> None:
    assert (
        hubspot_url("https://app-eu1.hubspot.com", 4711, "123")
        == "https://app-eu1.hubspot.com/contacts/4711/record/0-3/123"
    )
    assert hubspot_url("https://app.hubspot.com", None, "123") is None
