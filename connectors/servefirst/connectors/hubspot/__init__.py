"""HubSpot: the connector on hubspot-api-client and a local sandbox emulating the CRM API."""

from servefirst.connectors.hubspot.connector import HubSpotConnector, connect

__all__ = ["HubSpotConnector", "connect"]
