"""Patient ids for sharing: a keyed hash stable within a client, or dropped."""

import pandas as pd
import pytest

from nmr_audit.masking import mask_patients

FRAME = pd.DataFrame({"patient_id": ["PAT1", "PAT2", "PAT1", None], "x": [1, 2, 3, 4]})


def test_keyed_hash_is_stable_per_key_and_hides_the_id():
    one = mask_patients(FRAME, "hash", b"client-a-key")
    again = mask_patients(FRAME, "hash", b"client-a-key")
    other = mask_patients(FRAME, "hash", b"client-b-key")
    assert one["patient_id"].iloc[0] == one["patient_id"].iloc[2] == again["patient_id"].iloc[0]
    assert one["patient_id"].iloc[0] != other["patient_id"].iloc[0]
    assert one["patient_id"].str.fullmatch(r"P-[0-9a-f]{16}").iloc[:3].all() and pd.isna(one["patient_id"].iloc[3])
    assert "PAT1" not in one.to_csv()


def test_drop_and_keep():
    assert "patient_id" not in mask_patients(FRAME, "drop").columns
    assert mask_patients(FRAME, "keep") is FRAME


def test_hash_without_a_key_says_what_to_do():
    with pytest.raises(ValueError, match="NMR_AUDIT_MASK_KEY"):
        mask_patients(FRAME, "hash", None)
