"""The custom fields servefirst provisions (playbook.md's default mapping), as Tooling Metadata.

The seeder uses this to make an org look already provisioned; it mirrors what the connector's
provisioning creates, so the demo and benchmarks run against realistic metadata.
"""

from __future__ import annotations

from typing import Any

HEALTH_VALUES = ("On track", "At risk", "Off track")

PLAYBOOK_FIELDS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "Opportunity.Operational_Date__c",
        {
            "type": "Date",
            "label": "Operational Date",
            "inlineHelpText": "When the solution is operating and meeting the sponsor's "
            "success criteria.",
        },
    ),
    (
        "Opportunity.Success_Criteria__c",
        {
            "type": "LongTextArea",
            "label": "Success Criteria",
            "length": 32768,
            "visibleLines": 6,
            "inlineHelpText": "What 'improved' means for the sponsor: one measurable criterion "
            "per line, [x] when met.",
        },
    ),
    (
        "Opportunity.Success_Confirmed__c",
        {
            "type": "Checkbox",
            "label": "Success Confirmed",
            "defaultValue": "false",
            "inlineHelpText": "The sponsor confirmed the success criteria are met.",
        },
    ),
    (
        "Opportunity.Playbook_Health__c",
        {
            "type": "Picklist",
            "label": "Playbook Health",
            "inlineHelpText": "Set by servefirst: is this engagement on track with the playbook?",
            "valueSet": {
                "restricted": True,
                "valueSetDefinition": {
                    "sorted": False,
                    "value": [{"fullName": v, "label": v, "default": False} for v in HEALTH_VALUES],
                },
            },
        },
    ),
    (
        "Opportunity.Playbook_Findings__c",
        {
            "type": "LongTextArea",
            "label": "Playbook Findings",
            "length": 32768,
            "visibleLines": 6,
            "inlineHelpText": "Set by servefirst: what to do next to serve the sponsor.",
        },
    ),
    (
        "Opportunity.Operational_Date_Slips__c",
        {
            "type": "Number",
            "label": "Operational Date Slips",
            "precision": 18,
            "scale": 0,
            "inlineHelpText": "Set by servefirst: how often the Operational Date moved later.",
        },
    ),
    (
        "Task.ServeFirst_Key__c",
        {
            "type": "Text",
            "label": "ServeFirst Key",
            "length": 255,
            "externalId": True,
            "unique": True,
            "inlineHelpText": "Set by servefirst: identifies the playbook task, so it is never "
            "created twice.",
        },
    ),
)
