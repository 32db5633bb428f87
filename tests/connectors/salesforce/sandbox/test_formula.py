"""Validation-rule formulas: the shapes provisioning creates, evaluated on old and new rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from servefirst.connectors.salesforce.sandbox.formula import Context, FormulaError, compile_formula
from servefirst.connectors.salesforce.sandbox.objects import data_objects, picklist
from servefirst.connectors.salesforce.sandbox.schema import FieldDef, FieldType, ObjectDef

TODAY = date(2025, 6, 1)


@pytest.fixture(scope="module")
def opportunity() -> ObjectDef:
    obj = data_objects(picklist(("Discover", "Diagnose", "Closed Won"))).objects["Opportunity"]
    obj.put_field(FieldDef("Operational_Date__c", FieldType.DATE, "Operational Date", custom=True))
    return obj


def _fires(
    obj: ObjectDef, formula: str, new: dict[str, Any], old: dict[str, Any] | None = None
) -> bool:
    return bool(compile_formula(formula, obj)(Context(new, old, TODAY)))


SHAPE = 'AND(NOT(ISPICKVAL(StageName, "Discover")), NOT(IsClosed), ISBLANK(Operational_Date__c))'


@pytest.mark.parametrize(
    ("formula", "new", "old", "fires"),
    [
        (SHAPE, {"StageName": "Diagnose", "IsClosed": False}, None, True),
        (SHAPE, {"StageName": "Discover", "IsClosed": False}, None, False),
        (SHAPE, {"StageName": "Closed Won", "IsClosed": True}, None, False),
        (SHAPE, {"StageName": "Diagnose", "Operational_Date__c": TODAY}, None, False),
        ("OR(ISNULL(Amount), Amount < 0)", {"Amount": None}, None, True),
        ("OR(ISNULL(Amount), Amount < 0)", {"Amount": 5.0}, None, False),
        (
            "Operational_Date__c < CloseDate",
            {"Operational_Date__c": TODAY, "CloseDate": date(2025, 7, 1)},
            None,
            True,
        ),
        ("Operational_Date__c < CloseDate", {"CloseDate": date(2025, 7, 1)}, None, False),
        (
            "Operational_Date__c < CloseDate + 30",
            {"Operational_Date__c": date(2025, 7, 15), "CloseDate": date(2025, 7, 1)},
            None,
            True,
        ),
        ("Operational_Date__c < TODAY()", {"Operational_Date__c": date(2025, 5, 31)}, None, True),
        (
            "ISCHANGED(StageName) && !ISNEW()",
            {"StageName": "Diagnose"},
            {"StageName": "Discover"},
            True,
        ),
        ("ISCHANGED(StageName)", {"StageName": "Diagnose"}, None, False),
        (
            'TEXT(PRIORVALUE(StageName)) = "Discover"',
            {"StageName": "Diagnose"},
            {"StageName": "Discover"},
            True,
        ),
        ("IF(IsWon, ISBLANK(NextStep), FALSE)", {"IsWon": True}, None, True),
        ('LEN(Name) > 5 || Name = "x"', {"Name": "abc"}, None, False),
        ('BLANKVALUE(NextStep, "none") = "none"', {"NextStep": ""}, None, True),
        ("Amount * 2 >= 10 && Amount / 2 <> 0", {"Amount": 5.0}, None, True),
    ],
)
def test_formula_shapes(
    opportunity: ObjectDef,
    formula: str,
    new: dict[str, Any],
    old: dict[str, Any] | None,
    fires: bool,
) -> None:
    assert _fires(opportunity, formula, new, old) is fires


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("FOO(Amount)", "Error: Unknown function FOO. Check spelling."),
        ("ISBLANK(Nope__c)", "Error: Field Nope__c does not exist. Check spelling."),
        ('StageName = "Design"', "Field StageName is a picklist field."),
        ('ISPICKVAL(Name, "x")', "ISPICKVAL needs a picklist field"),
        ("NOT(IsClosed, IsWon)", "Incorrect number of parameters for function 'NOT()'"),
        ("AND(IsClosed", "Syntax error"),
        ("IsClosed IsWon", "Syntax error"),
        ("", "You must enter a value"),
    ],
)
def test_formula_errors(opportunity: ObjectDef, formula: str, message: str) -> None:
    with pytest.raises(FormulaError) as raised:
        compile_formula(formula, opportunity)
    assert message in str(raised.value)
