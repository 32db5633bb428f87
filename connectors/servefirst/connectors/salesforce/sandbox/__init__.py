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

What it serves: OAuth token endpoint (JWT bearer, client credentials), the identity URL and
``oauth2/userinfo``, versions and their resources, describe, sObject CRUD and upsert by
external id, ``sobjects/X/updated`` and ``/deleted``, SOQL ``query``/``queryAll`` with paging,
aggregates and ``columns=true``, composite sObject collections with ``allOrNone`` rollback,
Bulk API 2.0 ingest and query jobs (taking real time; Get All Jobs), the Tooling API
(CustomField, ValidationRule, PathAssistant; field-level security via FieldPermissions),
``limits`` and the daily budget. An empty org has Salesforce's standard Opportunity stages, as
a new org does. The ``/__sandbox__/`` admin API (seeding, the daily budget, token expiry, Bulk
job speed, faults, counters) is listed by ``GET /__sandbox__/`` and described in
``docs/sandbox-admin.md``.

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
