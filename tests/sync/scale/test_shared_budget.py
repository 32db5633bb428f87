"""Workers share one org's API budget through Redis: two processes, one window, never over."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from servefirst.config.settings import ScaleSettings, Settings
from servefirst.connectors.budget import LocalLimiter, RedisLimiter, process_limiter, use_limiter
from servefirst.sync.scale.worker import share_budgets

pytestmark = [pytest.mark.redis]

#: One process's part: take as many places as it can, report how many it got.
_TAKER = """
import sys
from servefirst.connectors.budget import RedisLimiter
limiter = RedisLimiter.from_url(sys.argv[1], sys.argv[2])
sys.stdin.readline()  # both start together
got = sum(1 for _ in range(int(sys.argv[4])) if limiter.take(sys.argv[3], 10, 60.0) == 0.0)
print(got)
"""


@pytest.fixture
def namespace(redis_url: str) -> str:
    """A fresh key prefix on the local Redis (skipped with a reason where Redis is absent)."""
    return f"servefirst-test-{uuid.uuid4().hex[:10]}"


def test_two_processes_spend_one_budget_between_them(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    script = tmp_path / "taker.py"
    script.write_text(_TAKER)
    takers = [
        subprocess.Popen(
            [sys.executable, str(script), redis_url, namespace, "hubspot:42", "25"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [taker.communicate("go\n", timeout=60)[0] for taker in takers]
    got = [int(out.strip()) for out in outputs]
    assert sum(got) == 10  # 50 tries, a limit of 10 per minute: exactly 10 go, whoever sent them
    assert all(taker.returncode == 0 for taker in takers)


def test_a_refusal_names_the_wait_and_other_orgs_are_untouched(
    redis_url: str, namespace: str
) -> None:
    limiter = RedisLimiter.from_url(redis_url, namespace)
    assert [limiter.take("salesforce:org-a", 2, 30.0) for _ in range(2)] == [0.0, 0.0]
    wait = limiter.take("salesforce:org-a", 2, 30.0)
    assert 29.0 < wait <= 30.0
    assert limiter.take("salesforce:org-b", 2, 30.0) == 0.0


def test_a_worker_shares_budgets_through_the_brokers_redis(redis_url: str, namespace: str) -> None:
    before = process_limiter()
    try:
        share_budgets(Settings(scale=ScaleSettings(broker_url=redis_url, namespace=namespace)))
        first = process_limiter()
        share_budgets(Settings(scale=ScaleSettings(broker_url=redis_url, namespace=namespace)))
        second = process_limiter()  # another worker process, as far as Redis can tell
        assert first.take("hubspot:7", 1, 30.0) == 0.0
        assert second.take("hubspot:7", 1, 30.0) > 0
    finally:
        use_limiter(before)


def test_without_a_redis_a_worker_paces_alone() -> None:
    before = process_limiter()
    try:
        share_budgets(Settings(scale=ScaleSettings(broker_url="amqp://127.0.0.1:5672")))
        assert isinstance(process_limiter(), LocalLimiter)
    finally:
        use_limiter(before)
