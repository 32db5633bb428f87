"""A local HubSpot CRM sandbox: HubSpot's CRM API, faithfully enough for hubspot-api-client.

Start one with :func:`start_sandbox`; the returned handle gives the url, the token and a
``servefirst.toml`` pointing at it. Like a real portal, it enforces its tier's rate limits
(429) and its search lags writes by a few seconds unless told otherwise. Its admin endpoints
(search lag, rate limits and tier, tokens, seeding, saving) are listed by
``GET /__sandbox__/`` and described in ``docs/sandbox-admin.md``.

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
