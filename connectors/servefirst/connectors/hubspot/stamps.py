"""What servefirst remembers of a deal to know, next time, that it has not changed since.

A deal's ``updatedAt`` alone cannot say so. servefirst reads a deal, evaluates it, then
writes it; a rep's edit that lands in between is covered by the ``updatedAt`` HubSpot returns
for servefirst's own write, so "the deal still carries the stamp of our write" would skip a deal
whose edit was never evaluated. The stamp therefore also carries a digest of the deal's own
properties as servefirst last knew them (as read, with its own write's values laid over):
an edit in between changes what the next search returns, so the digest no longer matches and
the deal is read in full. ``num_associated_contacts`` is among them, so a contact associated or
removed in between is seen too; tasks completed in between are found by their own query.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

#: Properties every write changes: they say nothing about what a rep did.
VOLATILE = frozenset({"hs_lastmodifieddate"})


def content_stamp(updated_at: str, props: Mapping[str, Any], names: Iterable[str]) -> str:
    """``updatedAt`` and a digest of the properties ``names`` (absent and empty alike)."""
    values = [[name, str(props.get(name) or "")] for name in sorted(set(names) - VOLATILE)]
    digest = hashlib.blake2b(json.dumps(values).encode(), digest_size=12).hexdigest()
    return f"{updated_at}#{digest}"
