"""A local HubSpot CRM sandbox: HubSpot's CRM API, faithfully enough for hubspot-api-client.

Start one with :func:`start_sandbox`; the returned handle gives the url, the token and a
``servefirst.toml`` pointing at it. Sandbox-specific admin endpoints (under ``/__sandbox__``,
next to the shared stats and faults ones): ``POST /search-lag {"seconds"}``,
``POST /ratelimits {"enabled", "tier", "daily_used", "search_per_second", "reset_window"}``,
``POST /tokens {"scopes", "expired"}`` (a token with limited scopes), ``POST /seed {"kind",
"n"}``, ``POST /save`` and ``GET /portal`` (record counts).

Findings that shape the connector (from HubSpot's docs and API reference):

- Tasks accept custom properties, but not unique-value ones: HubSpot lets contacts,
  companies, deals, tickets and custom objects have ``hasUniqueValue`` properties, and the
  sandbox answers 400 to one on tasks or notes. A task key can be stored on the task and found
  with search, but tasks cannot be upserted by it.
- Associating or removing a contact changes a deal's ``num_associated_contacts`` (a calculated
  property), which stamps the deal's ``hs_lastmodifieddate`` (and the contact's
  ``num_associated_deals`` and ``lastmodifieddate``); adding or removing a *label* on a contact
  that stays associated changes no count and does not stamp the deal, so an incremental pull
  on ``hs_lastmodifieddate`` does not see a Sponsor label added to an already associated
  contact. Associating tasks or notes does not stamp the deal.
- ``closedate`` is a datetime property (any time of day); only ``type: date`` properties such
  as ``operational_date`` must be at midnight UTC.
"""

from servefirst.connectors.hubspot.sandbox.launch import start_sandbox
from servefirst.connectors.hubspot.sandbox.store import Portal

__all__ = ["Portal", "start_sandbox"]
