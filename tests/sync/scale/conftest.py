"""What the scale-out tests share: a HubSpot sandbox to sync, and the local Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from servefirst.connectors.hubspot.sandbox.launch import start_sandbox
from servefirst.connectors.sandboxkit import RunningSandbox

REDIS = os.environ.get("SERVEFIRST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """The demo portal, without rate limits or search lag: these tests are about the queue."""
    running = start_sandbox(
        workdir=tmp_path / "crm", seed="demo", rate_limits=False, search_lag_seconds=0.0
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def redis_url() -> str:
    """The local Redis, or a skip saying where it was looked for."""
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS}: {exc}")
    finally:
        client.close()
    return REDIS
