"""Sandboxes for the fidelity suite, reached through the real simple-salesforce over TLS.

``demo`` (one per session) is shared by tests that only read or add their own records; tests
that change metadata (custom fields, validation rules, limits) get a ``fresh`` org of their own.

Before a server stops, ``gc.collect()`` frees exceptions kept by ``pytest.raises``: their
tracebacks hold requests responses whose socket files keep TLS connections open, and uvicorn's
graceful shutdown would wait for those connections for seconds.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servefirst.connectors.salesforce.sandbox import RunningSandbox, start_sandbox
from servefirst.connectors.salesforce.sandbox.testing import connect


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    sandbox = start_sandbox(
        workdir=tmp_path_factory.mktemp("sf-demo"),
        seed="demo",
        stages="servefirst",
        bulk_job_seconds=0.0,
    )
    yield sandbox
    gc.collect()
    sandbox.stop()


@pytest.fixture(scope="session")
def sf(demo: RunningSandbox) -> Iterator[Any]:
    client = connect(demo)
    yield client
    client.session.close()  # open TLS keep-alive connections would slow the server's stop


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningSandbox]:
    sandbox = start_sandbox(
        workdir=tmp_path, seed="none", stages="servefirst", bulk_job_seconds=0.0
    )
    yield sandbox
    gc.collect()
    sandbox.stop()


@pytest.fixture
def fresh_sf(fresh: RunningSandbox) -> Iterator[Any]:
    client = connect(fresh)
    yield client
    client.session.close()
