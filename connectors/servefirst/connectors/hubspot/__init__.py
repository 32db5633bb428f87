"""HubSpot: the connector (``connect``) and the local sandbox (``sandbox``)."""

from servefirst.connectors.hubspot.connector import HubSpotConnector, connect

__all__ = ["HubSpotConnector", "connect"]
