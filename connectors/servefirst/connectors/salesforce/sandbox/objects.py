"""The standard objects the sandbox's org has, as tables of fields.

Only what servefirst and its users touch is modelled, but each field carries describe's real
properties (type, length, nillable, createable, updateable, relationship names), because
connector code keys its behaviour off them.
"""

from __future__ import annotations

from typing import Any

from servefirst.connectors.salesforce.sandbox.schema import (
    FieldDef,
    FieldType,
    ObjectDef,
    PicklistValue,
    Schema,
)

T = FieldType

OCR_ROLES = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_CLOSED_STATUSES = frozenset({"Completed"})
TASK_PRIORITIES = ("High", "Normal", "Low")
FORECAST_CATEGORIES = ("Omitted", "Pipeline", "Best Case", "Commit", "Closed")


def picklist(values: tuple[str, ...], default: str | None = None) -> tuple[PicklistValue, ...]:
    return tuple(PicklistValue(v, v, default=v == default) for v in values)


def f(name: str, kind: FieldType, label: str | None = None, **options: Any) -> FieldDef:
    """A field; length defaults to describe's usual values for the type."""
    if kind in (T.ID, T.REFERENCE):
        options.setdefault("length", 18)
    elif kind is T.STRING:
        options.setdefault("length", 255)
    elif kind is T.TEXTAREA:
        options.setdefault("length", 32000)
    elif kind in (T.PICKLIST, T.EMAIL, T.PHONE):
        options.setdefault("length", {T.PICKLIST: 255, T.EMAIL: 80, T.PHONE: 40}[kind])
    return FieldDef(name=name, type=kind, label=label or name, **options)


def ro(name: str, kind: FieldType, label: str | None = None, **options: Any) -> FieldDef:
    """A read-only field (system-maintained or derived)."""
    return f(name, kind, label, createable=False, updateable=False, **options)


def _system(owned: bool) -> list[FieldDef]:
    fields = [
        ro("Id", T.ID, "Record ID", nillable=False, defaulted_on_create=True),
        ro("IsDeleted", T.BOOLEAN, "Deleted", nillable=False, defaulted_on_create=True),
        ro("CreatedDate", T.DATETIME, "Created Date", nillable=False, defaulted_on_create=True),
        ro(
            "CreatedById",
            T.REFERENCE,
            "Created By ID",
            reference_to=("User",),
            relationship_name="CreatedBy",
            nillable=False,
            defaulted_on_create=True,
        ),
        ro("LastModifiedDate", T.DATETIME, "Last Modified Date", nillable=False),
        ro(
            "LastModifiedById",
            T.REFERENCE,
            "Last Modified By ID",
            reference_to=("User",),
            relationship_name="LastModifiedBy",
            nillable=False,
            defaulted_on_create=True,
        ),
        ro("SystemModstamp", T.DATETIME, "System Modstamp", nillable=False),
    ]
    if owned:
        fields.append(
            f(
                "OwnerId",
                T.REFERENCE,
                "Owner ID",
                reference_to=("User",),
                relationship_name="Owner",
                nillable=False,
                defaulted_on_create=True,
            )
        )
    return fields


def obj_def(
    name: str, prefix: str, plural: str, fields: list[FieldDef], *, owned: bool = True, **kw: Any
) -> ObjectDef:
    ordered = {d.name: d for d in [*_system(owned), *fields]}
    return ObjectDef(name, prefix, name, plural, ordered, **kw)


def data_objects(stage_values: tuple[PicklistValue, ...]) -> Schema:
    """The data API's objects; ``stage_values`` are the org's Opportunity stages."""
    name_field = {"name_field": True}
    objects = [
        obj_def(
            "User",
            "005",
            "Users",
            [
                f("Username", T.STRING, "Username", length=80, nillable=False, unique=True),
                f("FirstName", T.STRING, "First Name", length=40),
                f("LastName", T.STRING, "Last Name", length=80, nillable=False),
                ro("Name", T.STRING, "Full Name", length=121, **name_field),
                f("Email", T.EMAIL, "Email", nillable=False),
                f("Alias", T.STRING, "Alias", length=8),
                f("Title", T.STRING, "Title", length=80),
                f("IsActive", T.BOOLEAN, "Active", nillable=False, default=True),
            ],
            owned=False,
        ),
        obj_def(
            "Account",
            "001",
            "Accounts",
            [
                f("Name", T.STRING, "Account Name", nillable=False, **name_field),
                f("Industry", T.PICKLIST, "Industry", picklist=()),
                f("Website", T.URL, "Website"),
                f("Phone", T.PHONE, "Account Phone"),
                f("Description", T.TEXTAREA, "Account Description"),
            ],
            custom_fields_allowed=True,
        ),
        obj_def(
            "Contact",
            "003",
            "Contacts",
            [
                f(
                    "AccountId",
                    T.REFERENCE,
                    "Account ID",
                    reference_to=("Account",),
                    relationship_name="Account",
                    child_relationship="Contacts",
                    cascade_delete=True,
                ),
                f("FirstName", T.STRING, "First Name", length=40),
                f("LastName", T.STRING, "Last Name", length=80, nillable=False),
                ro("Name", T.STRING, "Full Name", length=121, **name_field),
                f("Email", T.EMAIL, "Email"),
                f("Title", T.STRING, "Title", length=128),
                f("Phone", T.PHONE, "Business Phone"),
            ],
            custom_fields_allowed=True,
        ),
        obj_def(
            "Opportunity",
            "006",
            "Opportunities",
            [
                f("Name", T.STRING, "Name", length=120, nillable=False, **name_field),
                f(
                    "AccountId",
                    T.REFERENCE,
                    "Account ID",
                    reference_to=("Account",),
                    relationship_name="Account",
                    child_relationship="Opportunities",
                    cascade_delete=True,
                ),
                f(
                    "StageName",
                    T.PICKLIST,
                    "Stage",
                    length=255,
                    nillable=False,
                    picklist=stage_values,
                    restricted=True,
                ),
                f("Amount", T.CURRENCY, "Amount", precision=18, scale=2),
                f("Probability", T.PERCENT, "Probability (%)", precision=3, scale=0),
                f("CloseDate", T.DATE, "Close Date", nillable=False),
                f("NextStep", T.STRING, "Next Step"),
                f("Description", T.TEXTAREA, "Description"),
                f("LeadSource", T.PICKLIST, "Lead Source", picklist=()),
                ro("IsClosed", T.BOOLEAN, "Closed", nillable=False, defaulted_on_create=True),
                ro("IsWon", T.BOOLEAN, "Won", nillable=False, defaulted_on_create=True),
                ro(
                    "ForecastCategoryName",
                    T.PICKLIST,
                    "Forecast Category",
                    picklist=picklist(FORECAST_CATEGORIES),
                ),
            ],
            custom_fields_allowed=True,
        ),
        obj_def(
            "OpportunityContactRole",
            "00K",
            "Opportunity Contact Role",
            [
                f(
                    "OpportunityId",
                    T.REFERENCE,
                    "Opportunity ID",
                    reference_to=("Opportunity",),
                    relationship_name="Opportunity",
                    child_relationship="OpportunityContactRoles",
                    cascade_delete=True,
                    nillable=False,
                    updateable=False,
                ),
                f(
                    "ContactId",
                    T.REFERENCE,
                    "Contact ID",
                    reference_to=("Contact",),
                    relationship_name="Contact",
                    child_relationship="OpportunityContactRoles",
                    cascade_delete=True,
                    nillable=False,
                ),
                f("Role", T.PICKLIST, "Role", length=40, picklist=picklist(OCR_ROLES)),
                f("IsPrimary", T.BOOLEAN, "Primary", nillable=False, default=False),
            ],
            owned=False,
        ),
        obj_def(
            "Task",
            "00T",
            "Tasks",
            [
                f(
                    "WhoId",
                    T.REFERENCE,
                    "Name ID",
                    reference_to=("Contact",),
                    relationship_name="Who",
                    child_relationship="Tasks",
                    cascade_delete=True,
                ),
                f(
                    "WhatId",
                    T.REFERENCE,
                    "Related To ID",
                    reference_to=("Account", "Opportunity"),
                    relationship_name="What",
                    child_relationship="Tasks",
                    cascade_delete=True,
                ),
                f("Subject", T.STRING, "Subject"),
                f("ActivityDate", T.DATE, "Due Date Only"),
                f(
                    "Status",
                    T.PICKLIST,
                    "Status",
                    length=40,
                    nillable=False,
                    picklist=picklist(TASK_STATUSES, "Not Started"),
                    restricted=True,
                    default="Not Started",
                ),
                f(
                    "Priority",
                    T.PICKLIST,
                    "Priority",
                    length=40,
                    nillable=False,
                    picklist=picklist(TASK_PRIORITIES, "Normal"),
                    restricted=True,
                    default="Normal",
                ),
                f("Description", T.TEXTAREA, "Description"),
                ro("IsClosed", T.BOOLEAN, "Closed", nillable=False, defaulted_on_create=True),
            ],
            custom_fields_allowed=True,
        ),
        obj_def(
            "OpportunityStage",
            "01J",
            "Opportunity Stages",
            [
                ro("MasterLabel", T.STRING, "Master Label", nillable=False),
                ro("ApiName", T.STRING, "Api Name", nillable=False),
                ro("IsActive", T.BOOLEAN, "Is Active", nillable=False),
                ro("SortOrder", T.INT, "Sort Order"),
                ro("IsClosed", T.BOOLEAN, "Closed", nillable=False),
                ro("IsWon", T.BOOLEAN, "Won", nillable=False),
                ro("ForecastCategory", T.PICKLIST, "Forecast Type", picklist=()),
                ro(
                    "ForecastCategoryName",
                    T.PICKLIST,
                    "Forecast Category",
                    picklist=picklist(FORECAST_CATEGORIES),
                ),
                ro("DefaultProbability", T.PERCENT, "Probability (%)", precision=3),
                ro("Description", T.STRING, "Description"),
            ],
            owned=False,
            createable=False,
            updateable=False,
            deletable=False,
        ),
        obj_def(
            "PermissionSet",
            "0PS",
            "Permission Sets",
            [
                f("Name", T.STRING, "Name", length=80, nillable=False, unique=True),
                f("Label", T.STRING, "Label", length=80, nillable=False, **name_field),
                f("Description", T.STRING, "Description"),
                ro("IsOwnedByProfile", T.BOOLEAN, "Is Owned By Profile", nillable=False),
            ],
            owned=False,
        ),
        obj_def(
            "PermissionSetAssignment",
            "0Pa",
            "Permission Set Assignments",
            [
                f(
                    "AssigneeId",
                    T.REFERENCE,
                    "Assignee ID",
                    reference_to=("User",),
                    relationship_name="Assignee",
                    nillable=False,
                    updateable=False,
                ),
                f(
                    "PermissionSetId",
                    T.REFERENCE,
                    "Permission Set ID",
                    reference_to=("PermissionSet",),
                    relationship_name="PermissionSet",
                    child_relationship="Assignments",
                    cascade_delete=True,
                    nillable=False,
                    updateable=False,
                ),
            ],
            owned=False,
            updateable=False,
        ),
        obj_def(
            "FieldPermissions",
            "01k",
            "Field Permissions",
            [
                f(
                    "ParentId",
                    T.REFERENCE,
                    "Parent ID",
                    reference_to=("PermissionSet",),
                    relationship_name="Parent",
                    child_relationship="FieldPerms",
                    cascade_delete=True,
                    nillable=False,
                    updateable=False,
                ),
                f("SobjectType", T.PICKLIST, "Sobject Type Name", nillable=False, updateable=False),
                f("Field", T.PICKLIST, "Field Name", nillable=False, updateable=False),
                f("PermissionsRead", T.BOOLEAN, "Read Access", nillable=False, default=False),
                f("PermissionsEdit", T.BOOLEAN, "Edit Access", nillable=False, default=False),
            ],
            owned=False,
        ),
    ]
    return Schema(objects)
