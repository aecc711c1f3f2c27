"""The vectorized engine against a plain per-visit implementation written from the manual.

The reference below works one visit at a time and enumerates every allotment of the day's
units that the manual allows, so it shares no arithmetic shortcut with `nmr_audit.visits`.
"""

from functools import cache
from itertools import product

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmr_audit.units import cms_allotment
from nmr_audit.visits import reconcile_visits
from tests.builders import tables, visit

TIMED = ("97112", "97110", "97140", "97116", "97530")
UNTIMED = ("97161", "97010")


def table_units(minutes: int) -> int:
    """The unit table written out as the manual prints it: 8–22 → 1, 23–37 → 2, …"""
    units, upper = 0, 7
    while minutes > upper:
        units, upper = units + 1, upper + 15
    return units


def valid_allotments(minutes: dict[str, int]) -> list[dict[str, int]]:
    """Every allotment §20.2 allows: full units first, the rest by largest remainder, any tie order."""
    pooled = table_units(sum(minutes.values()))
    codes = list(minutes)
    found = []
    for extras in product((0, 1), repeat=len(codes)):
        units = {c: minutes[c] // 15 + e for c, e in zip(codes, extras, strict=True)}
        if sum(units.values()) != pooled:
            continue
        winners = [minutes[c] % 15 for c, e in zip(codes, extras, strict=True) if e]
        losers = [minutes[c] % 15 for c, e in zip(codes, extras, strict=True) if not e]
        if all(w > 0 for w in winners) and (not winners or not losers or min(winners) >= max(losers)):
            found.append(units)
    return found


@cache
def ama_best(minutes: int, codes: int) -> int:
    """Most AMA units `minutes` can support split over at most `codes` codes (search)."""
    if codes == 0 or minutes == 0:
        return 0
    return max(table_units(x) + ama_best(minutes - x, codes - 1) for x in range(minutes + 1))


def expected(v) -> tuple[int, int]:
    """(supported_units_97112, supported_timed_units) for one visit, the slow way."""
    if not v.note:
        return 0, 0
    cms = v.payer_type == "medicare" or not v.billed  # no claim at all: the unknown payer, CMS
    timed = {c: m for c, m in (v.minutes or {}).items() if c in TIMED}
    other_billed = {c: u for c, u in v.billed.items() if c in TIMED and c != "97112" and u > 0}
    if v.minutes:
        if cms:
            allotments = valid_allotments(timed)
            assert allotments, f"the manual always allows an allotment: {timed}"
            return max(a.get("97112", 0) for a in allotments), table_units(sum(timed.values()))
        return table_units(timed.get("97112", 0)), sum(table_units(m) for m in timed.values())
    total = v.total_timed_minutes or 0
    billed_codes = sum(1 for c, u in v.billed.items() if c in TIMED and u > 0)
    if cms:
        return max(0, table_units(total) - sum(other_billed.values())), table_units(total)
    needed = sum(15 * u - 7 for u in other_billed.values())
    return table_units(max(0, total - needed)), ama_best(total, max(billed_codes, 1))


minutes_by_code = st.dictionaries(st.sampled_from(TIMED + UNTIMED), st.integers(0, 60), max_size=5)
a_visit = st.builds(
    visit,
    payer_type=st.sampled_from(["medicare", "commercial"]),
    billed=st.dictionaries(st.sampled_from(TIMED + UNTIMED), st.integers(0, 5), max_size=4),
    minutes=st.one_of(minutes_by_code, st.none()),
    total_timed_minutes=st.one_of(st.none(), st.integers(0, 130)),
    note=st.booleans(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(a_visit, min_size=1, max_size=40))
def test_engine_matches_the_per_visit_reference(reference, visits):
    visits = [v.__class__(**{**v.__dict__, "patient_id": f"P{i}"}) for i, v in enumerate(visits)]
    result = reconcile_visits(*tables(*visits), reference).set_index("patient_id")
    for i, v in enumerate(visits):
        in_scope = v.billed.get("97112") is not None or (v.note and (v.minutes or {}).get("97112", 0) > 0)
        assert (f"P{i}" in result.index) == in_scope
        if not in_scope:
            continue
        row = result.loc[f"P{i}"]
        supported, supported_timed = expected(v)
        assert row["supported_units_97112"] == supported, v
        assert row["supported_timed_units"] == supported_timed, v
        assert row["excess_units_97112"] == max(0, v.billed.get("97112", 0) - supported)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(TIMED), st.integers(0, 60), min_size=1, max_size=5),
                min_size=1, max_size=30))
def test_no_valid_allotment_gives_97112_more_than_supported(reference, days):
    visits = [visit(patient_id=f"P{i}", billed={"97112": 1}, minutes=m) for i, m in enumerate(days)]
    supported = reconcile_visits(*tables(*visits), reference).set_index("patient_id")["supported_units_97112"]
    for i, minutes in enumerate(days):
        allotments = valid_allotments(minutes)
        assert all(a.get("97112", 0) <= supported[f"P{i}"] for a in allotments)
        assert any(a.get("97112", 0) == supported[f"P{i}"] for a in allotments)
        services = pd.DataFrame({"visit": 0, "cpt_code": list(minutes), "minutes": list(minutes.values())})
        billed = dict(zip(minutes, cms_allotment(services, favour="97112"), strict=True))
        assert billed in allotments and billed.get("97112", 0) == supported[f"P{i}"]
