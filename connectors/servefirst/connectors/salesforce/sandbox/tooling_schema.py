"""The Tooling API's objects: CustomField, ValidationRule and PathAssistant.

Their rows carry the columns Tooling queries filter on (DeveloperName, TableEnumOrId,
ValidationName, EntityDefinitionId...) plus ``FullName`` and ``Metadata``, which Salesforce
only returns when a query selects at most one row.
"""

from __future__ import annotations

from servefirst.connectors.salesforce.sandbox.objects import f, obj_def
from servefirst.connectors.salesforce.sandbox.schema import FieldType as T
from servefirst.connectors.salesforce.sandbox.schema import ObjectDef, Schema


def _path_assistant() -> ObjectDef:
    return obj_def(
        "PathAssistant",
        "04I",
        "Path Assistants",
        [
            f("DeveloperName", T.STRING, "Developer Name", length=80, nillable=False),
            f("MasterLabel", T.STRING, "Label", length=80, nillable=False),
            f("SobjectType", T.STRING, "Object", length=40, nillable=False),
            f("SobjectProcessField", T.STRING, "Picklist", length=40, nillable=False),
            f("RecordTypeId", T.STRING, "Record Type", length=18),
            f("IsActive", T.BOOLEAN, "Active", nillable=False, default=False),
            f("FullName", T.STRING, "Full Name", nillable=False),
            f("Metadata", T.COMPLEX, "Metadata", filterable=False),
        ],
        owned=False,
    )


def tooling_objects() -> Schema:
    """The Tooling API's objects the sandbox serves: CustomField, ValidationRule, PathAssistant."""
    metadata = f("Metadata", T.COMPLEX, "Metadata", filterable=False)
    entity = f("EntityDefinitionId", T.STRING, "Entity Definition ID", length=18)
    objects = [
        obj_def(
            "CustomField",
            "00N",
            "Custom Fields",
            [
                f("DeveloperName", T.STRING, "Developer Name", length=40, nillable=False),
                f("TableEnumOrId", T.STRING, "Table Enum Or ID", length=40, nillable=False),
                entity,
                f("NamespacePrefix", T.STRING, "Namespace Prefix", length=15),
                f("Description", T.TEXTAREA, "Description", length=1000),
                f("InlineHelpText", T.TEXTAREA, "Help Text", length=510),
                f("Length", T.INT, "Length"),
                f("FullName", T.STRING, "Full Name", nillable=False),
                metadata,
            ],
            owned=False,
        ),
        obj_def(
            "ValidationRule",
            "03d",
            "Validation Rules",
            [
                f("ValidationName", T.STRING, "Rule Name", length=40, nillable=False),
                entity,
                f("Active", T.BOOLEAN, "Active", nillable=False, default=False),
                f("Description", T.TEXTAREA, "Description", length=1000),
                f("ErrorDisplayField", T.STRING, "Error Location"),
                f("ErrorMessage", T.STRING, "Error Message", nillable=False),
                f("NamespacePrefix", T.STRING, "Namespace Prefix", length=15),
                f("FullName", T.STRING, "Full Name", nillable=False),
                metadata,
            ],
            owned=False,
        ),
        _path_assistant(),
    ]
    return Schema(objects)
