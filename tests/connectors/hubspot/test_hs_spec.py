"""What provisioning asks of a portal: pure specs and comparisons."""

from __future__ import annotations

from types import SimpleNamespace

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.config.settings import HubSpotFields
from servefirst.connectors.hubspot.spec import (
    HEALTH_OPTIONS,
    label_name,
    property_specs,
    stage_specs,
)


def test_the_properties_of_the_playbook_with_rep_facing_descriptions() -> None:
    specs = {s.name: s for s in property_specs(HubSpotFields())}
    assert {n: (s.object_type, s.type, s.field_type) for n, s in specs.items()} == {
        "operational_date": ("deals", "date", "date"),
        "success_criteria": ("deals", "string", "textarea"),
        "success_confirmed": ("deals", "bool", "booleancheckbox"),
        "playbook_health": ("deals", "enumeration", "select"),
        "playbook_findings": ("deals", "string", "textarea"),
        "operational_date_slips": ("deals", "number", "number"),
        "playbook_timetable": ("deals", "string", "textarea"),
        "playbook_waiver": ("deals", "string", "textarea"),
        "servefirst_task_key": ("tasks", "string", "text"),
    }
    assert [v for v, _ in specs["playbook_health"].options] == ["on_track", "at_risk", "off_track"]
    assert all(len(s.description) > 40 for s in specs.values())
    assert not any(s.has_unique_value for s in specs.values())  # tasks cannot have unique values


def test_differences_name_only_what_differs() -> None:
    spec = next(s for s in property_specs(HubSpotFields()) if s.name == "playbook_health")
    existing = SimpleNamespace(
        label=spec.label,
        type="enumeration",
        field_type="select",
        description=spec.description,
        group_name="serve_first",
        options=[SimpleNamespace(value=v, label=lab) for v, lab in HEALTH_OPTIONS],
    )
    assert spec.differences(existing, "serve_first") == {}
    existing.options = existing.options[:2]
    existing.label = "Health"
    assert set(spec.differences(existing, "serve_first")) == {"label", "options"}


def test_stages_in_order_with_closed_and_probability_metadata() -> None:
    playbook = load_playbook_file(builtin_playbook("prime"))
    specs = stage_specs(playbook, {"lost": "Lost"})
    assert [(s.label, s.is_closed, s.probability, s.mapped) for s in specs] == [
        ("Discover", False, 0.2, False),
        ("Diagnose", False, 0.4, False),
        ("Design", False, 0.6, False),
        ("Deliver", False, 0.8, False),
        ("Closed Won", True, 1.0, False),
        ("Lost", True, 0.0, True),
    ]
    assert specs[4].metadata() == {"isClosed": "true", "probability": "1"}
    assert specs[0].metadata() == {"isClosed": "false", "probability": "0.2"}


def test_label_names_are_slugs() -> None:
    assert label_name("Sponsor") == "sponsor"
    assert label_name("Executive Sponsor!") == "executive_sponsor"
