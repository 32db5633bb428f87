"""18-character ids: the checksum makes ids unique even compared case-insensitively."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from servefirst.connectors.salesforce.sandbox.ids import IdFactory, checksum, to18

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ids15 = st.text(alphabet=BASE62, min_size=15, max_size=15)


@given(ids15, ids15)
def test_case_variants_stay_distinct_when_lowercased(first: str, second: str) -> None:
    if first != second and first.lower() == second.lower():
        assert to18(first) != to18(second)
        assert str(to18(first)).lower() != str(to18(second)).lower()


@given(ids15)
def test_18_char_form_round_trips_and_rejects_a_wrong_checksum(id15: str) -> None:
    full = to18(id15)
    assert full is not None and full[:15] == id15 and to18(full) == full
    if id15 != id15.lower():
        assert to18(id15.lower() + full[15:]) is None  # the suffix encodes the case
    wrong = "A" if full[17] != "A" else "B"
    assert to18(full[:17] + wrong) is None


def test_factory_issues_prefixed_sequential_ids_and_skips_loaded_ones() -> None:
    factory = IdFactory()
    first, second = factory.new("006"), factory.new("006")
    assert first.startswith("006") and second > first and len(first) == 18
    assert first[15:] == checksum(first[:15])
    factory.observe("006Hs00000000zzAAA"[:15] + checksum("006Hs00000000zz"))
    assert factory.new("006")[:15] > "006Hs00000000zz"
