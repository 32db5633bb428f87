"""HubSpot: the connector on hubspot-api-client and a local sandbox emulating the CRM API."""
