"""What both CRM sandboxes share: serving on loopback (optionally over TLS with a local CA),
fault injection, per-endpoint request counters and the ``/__sandbox__/`` admin API.

Each CRM sandbox supplies only what differs: its routes, how it names an endpoint for the
counters, and what its API answers when a fault is injected (Salesforce's 503 body is not
HubSpot's 429 body).
"""

from servefirst.connectors.sandboxkit.admin import SandboxAdmin
from servefirst.connectors.sandboxkit.faults import Fault, FaultInjector, FaultKind
from servefirst.connectors.sandboxkit.middleware import SandboxMiddleware
from servefirst.connectors.sandboxkit.registry import AdminRegistry
from servefirst.connectors.sandboxkit.running import RunningSandbox
from servefirst.connectors.sandboxkit.server import SandboxServer

__all__ = [
    "AdminRegistry",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "RunningSandbox",
    "SandboxAdmin",
    "SandboxMiddleware",
    "SandboxServer",
]
