"""SOQL aggregates answer what the rows they summarise say, as AggregateResult records."""

from __future__ import annotations

import gc
import operator
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox import start_sandbox
from servefirst.connectors.salesforce.sandbox.testing import connect, first_error


@pytest.fixture(scope="module")
def demo_sf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sandbox = start_sandbox(workdir=Path(tmp_path_factory.mktemp("sf-agg")), seed="demo")
    client = connect(sandbox)
    yield client
    client.session.close()
    gc.collect()  # responses still referenced hold keep-alive connections the stop would wait on
    sandbox.stop()


def _rows(sf: Any) -> list[dict[str, Any]]:
    return list(sf.query_all("SELECT StageName, Amount, OwnerId FROM Opportunity")["records"])


def test_grouped_aggregates_match_the_rows(demo_sf: Any) -> None:
    rows = _rows(demo_sf)
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_stage[row["StageName"]].append(row)
    result = demo_sf.query(
        "SELECT StageName, COUNT(Id), COUNT(Amount) priced, COUNT_DISTINCT(OwnerId), "
        "SUM(Amount) total, MIN(Amount), MAX(Amount), AVG(Amount) average "
        "FROM Opportunity GROUP BY StageName ORDER BY StageName"
    )
    assert result["totalSize"] == len(by_stage) == len(result["records"])
    for record in result["records"]:
        members = by_stage[record["StageName"]]
        amounts = [m["Amount"] for m in members if m["Amount"] is not None]
        assert record["attributes"] == {"type": "AggregateResult"}
        assert list(record)[1:] == [
            "StageName",
            "expr0",
            "priced",
            "expr1",
            "total",
            "expr2",
            "expr3",
            "average",
        ]
        assert record["expr0"] == len(members)
        assert record["priced"] == len(amounts)
        assert record["expr1"] == len({m["OwnerId"] for m in members})
        assert record["total"] == pytest.approx(sum(amounts))
        assert (record["expr2"], record["expr3"]) == (min(amounts), max(amounts))
        assert record["average"] == pytest.approx(sum(amounts) / len(amounts))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(threshold=st.integers(min_value=0, max_value=12), op=st.sampled_from([">", ">=", "<", "="]))
def test_having_keeps_the_groups_whose_count_compares(
    demo_sf: Any, threshold: int, op: str
) -> None:
    counts: dict[str, int] = defaultdict(int)
    for row in _rows(demo_sf):
        counts[row["StageName"]] += 1
    compare: Callable[[int, int], bool] = {
        ">": operator.gt,
        ">=": operator.ge,
        "<": operator.lt,
        "=": operator.eq,
    }[op]
    soql = format_soql(
        "SELECT StageName, COUNT(Id) n FROM Opportunity GROUP BY StageName "
        "HAVING COUNT(Id) {op:literal} {threshold}",
        op=op,
        threshold=threshold,
    )
    found = {r["StageName"]: r["n"] for r in demo_sf.query(soql)["records"]}
    assert found == {stage: n for stage, n in counts.items() if compare(n, threshold)}


def test_without_group_by_one_row_answers_even_over_no_rows(demo_sf: Any) -> None:
    soql = format_soql(
        "SELECT COUNT(Id), MAX(CloseDate) latest FROM Opportunity WHERE Name = {}", "nobody"
    )
    result = demo_sf.query(soql)
    assert result["totalSize"] == 1
    assert result["records"] == [
        {"attributes": {"type": "AggregateResult"}, "expr0": 0, "latest": None}
    ]


@pytest.mark.parametrize(
    ("soql", "words"),
    [
        ("SELECT Name, COUNT(Id) FROM Opportunity GROUP BY StageName", "grouped or aggregated"),
        ("SELECT SUM(Name) FROM Opportunity", "does not support aggregate operator SUM"),
    ],
)
def test_what_salesforce_refuses_it_refuses(demo_sf: Any, soql: str, words: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        demo_sf.query(soql)
    error = first_error(info.value)
    assert error["errorCode"] == "MALFORMED_QUERY" and words in error["message"]
