"""Fees per unit from the fee schedule, by payer type and year of service."""

import pandas as pd
import pytest

from nmr_audit.money import fee_per_unit

SCHEDULE = pd.DataFrame({"payer_type": ["medicare", "medicare", "commercial"], "cpt_code": "97112",
                         "year": [2025, 2026, 2026], "amount": [31.70, 32.73, 40.0]})


@pytest.mark.parametrize(("payer", "date", "fee"), [
    ("medicare", "2026-05-01", 32.73),
    ("medicare", "2025-12-31", 31.70),
    ("medicare", "2027-01-02", 32.73),  # a year the schedule lacks: the latest earlier year
    ("medicare", "2023-03-01", 31.70),  # before the schedule: its first year
    ("commercial", "2026-01-01", 40.0),
])
def test_fee_by_payer_and_year(payer, date, fee):
    got = fee_per_unit(pd.Series([payer]), pd.Series([pd.Timestamp(date)]), "97112", SCHEDULE)
    assert got.iloc[0] == pytest.approx(fee)


def test_a_payer_without_a_fee_has_no_amount_and_order_is_kept():
    got = fee_per_unit(pd.Series(["workers_comp", "medicare", "commercial"], index=[5, 3, 9]),
                       pd.Series(pd.to_datetime(["2026-01-01", "2025-06-01", "2026-02-01"]), index=[5, 3, 9]),
                       "97112", SCHEDULE)
    assert list(got.index) == [5, 3, 9]
    assert pd.isna(got[5]) and got[3] == pytest.approx(31.70) and got[9] == pytest.approx(40.0)


def test_shipped_schedule_prices_97112_for_every_claim_payer_type(reference):
    dates = pd.Series([pd.Timestamp("2026-06-01")] * len(reference.payer_types))
    got = fee_per_unit(pd.Series(sorted(reference.payer_types)), dates, "97112", reference.fee_schedule)
    assert got.notna().all() and (got > 0).all()
