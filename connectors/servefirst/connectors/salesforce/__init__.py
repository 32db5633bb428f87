"""Salesforce: the connector (simple-salesforce) and a faithful local sandbox of its REST API."""
