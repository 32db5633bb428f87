"""A faithful local sandbox of the Salesforce REST API, for tests, demos and benchmarks.

Start one with :func:`start_sandbox`; it serves over TLS on loopback (simple-salesforce always
speaks https) and writes to its work directory the CA bundle, a pre-issued access token, the
JWT connected app's key pair (client id ``servefirst-sandbox``, user
``integration@servefirst.sandbox``), a client secret and a ``servefirst.toml`` connecting
servefirst to it.

Talking to it with simple-salesforce::

    sandbox = start_sandbox(workdir=tmp, seed="demo")
    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token, version="59.0",
                    session=client_session(sandbox.ca_bundle))

``client_session`` mounts an adapter that pins TLS verification to the sandbox's CA: plain
``session.verify = ca`` is not enough, because ``requests`` lets the ``REQUESTS_CA_BUNDLE``
environment variable override ``Session.verify``; the adapter sets ``verify`` per request,
after that merge.

What it serves (see ``docs/salesforce-api.md`` for the behaviour it reproduces): OAuth token
endpoint (JWT bearer, client credentials), versions, describe, sObject CRUD and upsert by
external id, ``sobjects/X/updated`` and ``/deleted``, SOQL ``query``/``queryAll`` with paging,
composite sObject collections with ``allOrNone`` rollback, Bulk API 2.0 ingest and query jobs,
the Tooling API (CustomField, ValidationRule, PathAssistant; field-level security via
FieldPermissions), ``limits`` and the daily budget, plus the ``/__sandbox__/`` admin API of
``servefirst.connectors.sandboxkit`` with these extras: ``POST /seed {"kind", "n"}``,
``GET|POST /limits {"daily_limit", "used"}``, ``POST /tokens/expire {"token"?}``, ``GET /org``.

Persistence: with ``data=`` the org is loaded from that SQLite file at start (when it holds
one) and written through after every change; see ``persist.py``.
"""

from servefirst.connectors.salesforce.sandbox.app import start_sandbox
from servefirst.connectors.salesforce.sandbox.client import PinnedCAAdapter, client_session
from servefirst.connectors.salesforce.sandbox.org import (
    INTEGRATION_USERNAME,
    JWT_CLIENT_ID,
    PERMISSION_SET,
)
from servefirst.connectors.sandboxkit import RunningSandbox

__all__ = [
    "INTEGRATION_USERNAME",
    "JWT_CLIENT_ID",
    "PERMISSION_SET",
    "PinnedCAAdapter",
    "RunningSandbox",
    "client_session",
    "start_sandbox",
]
