"""Salesforce: the connector (simple-salesforce over REST) and, in ``sandbox``, its emulator."""

from servefirst.connectors.salesforce.connector import SalesforceConnector, connect
from servefirst.connectors.salesforce.retry import RetryPolicy

__all__ = ["RetryPolicy", "SalesforceConnector", "connect"]
