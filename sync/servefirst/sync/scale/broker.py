"""The Dramatiq broker and actors of a deployment, built from its ``[scale]`` settings.

Actors are declared on an explicit broker instead of Dramatiq's global default, so a process
(or a test) can talk to several deployments, and importing this module connects to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from servefirst.config.settings import ScaleSettings
from servefirst.sync.scale.deadletter import DeadLetterRecorder
from servefirst.sync.scale.jobs import (
    provision_job,
    retry_when,
    revert_job,
    sync_job,
)

#: A worker polls its queue this often while idle (ms); each poll may run the broker's
#: maintenance, which is what gives a dead worker's messages back to the queue.
_POLL_MS = 1000
_MILLION = 1_000_000


def _maintenance_chance(redelivery_seconds: int) -> int:
    """Out of a million polls, how many run that maintenance.

    About four maintenances per redelivery period (polls come about once a second per worker
    thread), so a dead worker's messages are back within ~1.25x ``redelivery_seconds``
    instead of Dramatiq's default of one poll in a thousand, which can take many minutes.
    """
    return min(_MILLION, 4 * _MILLION // redelivery_seconds)


def make_broker(scale: ScaleSettings) -> dramatiq.Broker:
    """A Redis or RabbitMQ broker for ``scale``, with the dead-letter recorder installed."""
    broker: dramatiq.Broker
    if scale.broker_url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker  # noqa: PLC0415 - optional pika

        broker = RabbitmqBroker(url=scale.broker_url)
    else:
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=scale.broker_url,
            namespace=scale.namespace,
            heartbeat_timeout=scale.redelivery_seconds * 1000,
            maintenance_chance=_maintenance_chance(scale.redelivery_seconds),
        )
    broker.add_middleware(DeadLetterRecorder())
    return broker


@dataclass(frozen=True)
class Actors:
    """The three jobs a worker runs, bound to one broker and queue."""

    broker: dramatiq.Broker
    sync: dramatiq.Actor[Any, Any]
    provision: dramatiq.Actor[Any, Any]
    revert: dramatiq.Actor[Any, Any]


def declare_actors(broker: dramatiq.Broker, scale: ScaleSettings) -> Actors:
    """Declare the jobs on ``broker``; the same declaration serves senders and workers."""
    options: dict[str, Any] = {
        "broker": broker,
        "queue_name": scale.namespace,
        "max_retries": scale.max_retries,
        "min_backoff": int(scale.min_backoff_seconds * 1000),
        "max_backoff": int(scale.max_backoff_seconds * 1000),
        "retry_when": retry_when(scale.max_retries),
        # A sync of a large org can take long; the lease, not a time limit, guards it.
        "time_limit": 6 * 3600 * 1000,
    }

    def declare(fn: Any, name: str) -> dramatiq.Actor[Any, Any]:
        return dramatiq.actor(actor_name=name, **options)(fn)

    return Actors(
        broker=broker,
        sync=declare(sync_job, "servefirst.sync"),
        provision=declare(provision_job, "servefirst.provision"),
        revert=declare(revert_job, "servefirst.revert"),
    )


def poll_ms() -> int:
    """How often an idle worker polls (ms); see ``_POLL_MS``."""
    return _POLL_MS
