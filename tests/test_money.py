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


def _pfs(reference):
    """An imported PFS (two quarters of one locality's fee, one quarter of RVUs) and a clinic's locality."""
    from dataclasses import replace

    fees = pd.DataFrame({"mac": "01112", "locality": "05", "cpt_code": "97112", "nonfacility_amount": [36.67, 37.00],
                         "effective_from": pd.to_datetime(["2026-01-01", "2026-04-01"]).astype("datetime64[s]"),
                         "edition": ["2026Q1", "2026Q2"]})
    rvu = pd.DataFrame({"cpt_code": ["97112"], "modifier": [""], "work_rvu": [0.50], "pe_rvu_nonfacility": [0.47],
                        "mp_rvu": [0.01], "conversion_factor": [33.4009],
                        "effective_from": pd.to_datetime(["2026-01-01"]).astype("datetime64[s]"), "edition": ["2026Q1"]})
    clinics = pd.DataFrame({"clinic_id": ["CL1", "CL2"], "clinic_name": ["North", "South"], "mac": ["01112", ""],
                            "locality": ["5", ""], "verified": [False, False], "source": ["test", "test"]})
    return replace(reference, pfs_fees=fees, pfs_rvu=rvu, clinics=clinics)


@pytest.mark.parametrize(("payer_type", "clinic", "date", "fee", "edition"), [
    ("medicare", "CL1", "2026-03-04", 36.67, "pfs_fees 2026Q1 locality 01112/05"),
    ("medicare", "CL1", "2026-05-01", 37.00, "pfs_fees 2026Q2 locality 01112/05"),  # each date its quarter's
    ("medicare_advantage", "CL2", "2026-03-04", 32.73, "pfs_rvu 2026Q1 national (clinic locality unknown)"),
    ("commercial", "CL1", "2026-03-04", 32.73, "fee_schedule packaged"),  # contracted rates: fee_schedule.csv
    ("medicare", "CL1", "2025-06-01", 31.70, "fee_schedule packaged"),  # before the PFS imported
])
def test_locality_fees_where_the_pfs_is_imported(reference, payer_type, clinic, date, fee, edition):
    from nmr_audit.money import unit_fee, unit_fees

    rows = pd.DataFrame({"payer_type": [payer_type], "clinic_id": [clinic], "date_of_service": [pd.Timestamp(date)]})
    found = unit_fees(rows, "97112", _pfs(reference)).iloc[0]
    assert (round(found["fee"], 2), found["fee_edition"]) == (fee, edition)
    assert unit_fee(rows, "97112", _pfs(reference)).iloc[0] == pytest.approx(fee, abs=0.005)
    # national: (0.50 + 0.47 + 0.01) × 33.4009 = 32.73 (every GPCI 1.000)


def test_dollars_put_the_sign_before_the_dollar_sign():
    from nmr_audit.money import dollars

    assert [dollars(-431.389), dollars(1234.5), dollars(0.0), dollars(None)] == ["-$431.39", "$1,234.50", "$0.00", ""]
