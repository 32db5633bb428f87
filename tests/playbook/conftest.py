"""Fixtures for the pure playbook tests: the bundled playbook and an engagement factory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Engagement, Sponsor, Status, SuccessCriterion

T = dt.date(2026, 6, 15)


@pytest.fixture(scope="session")
def prime() -> Playbook:
    return load_playbook_file(builtin_playbook("prime"))


def _engagement(**overrides: Any) -> Engagement:
    """A healthy Design-stage engagement on date T, unless overridden."""
    fields: dict[str, Any] = {
        "id": "006000000000001AAA",
        "crm": "test",
        "name": "Tensile test automation",
        "account": "Acme Labs",
        "owner_id": "005000000000001AAA",
        "stage": "design",
        "raw_stage": "Design",
        "status": Status.OPEN,
        "po_date": T + dt.timedelta(days=30),
        "operational_date": T + dt.timedelta(days=200),
        "success_criteria": (SuccessCriterion(text="Setup from 40 to 10 minutes"),),
        "sponsors": (Sponsor(contact_id="003000000000001AAA", name="Dana Whitfield"),),
    }
    fields.update(overrides)
    return Engagement(**fields)


@pytest.fixture
def engagement() -> Callable[..., Engagement]:
    return _engagement
