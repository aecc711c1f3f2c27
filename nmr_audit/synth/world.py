"""The fixed cast of a synthetic dataset: clinics, providers, payer plans, texts.

Synthetic chargemaster prices and note texts are generator settings, not billing facts: the
audit never reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CLINICS = ("CL-NORTH", "CL-SOUTH", "CL-EAST", "CL-WEST", "CL-RIVER", "CL-LAKE")
CREDENTIALS = (("PT", 0.55), ("PTA", 0.25), ("OT", 0.13), ("OTA", 0.07))
PAYER_PLANS = (  # payer_id, payer_type, weight (the SYNTH- plans are rows of data/reference/payers.csv)
    ("MCR-B", "medicare", 0.36),
    ("MA-SUNCOAST", "medicare_advantage", 0.13),
    ("MCD-STATE", "medicaid", 0.08),
    ("BCBS-PPO", "commercial", 0.16),
    ("AETNA-HMO", "commercial", 0.11),
    ("SYNTH-CMSWAY-PPO", "commercial", 0.06),  # a commercial plan that counts units the CMS way
    ("WC-GRANITE", "workers_comp", 0.05),
    ("SYNTH-TRICARE-EAST", "tricare", 0.02),
    ("SELF-PAY", "other", 0.03),
)
# Who furnishes a visit: the patient's therapist alone, the clinic's assistant alone (billed under
# the therapist's NPI, the assistant's note naming the therapist as supervising_npi), or both
# (two notes; a timed code's minutes may be split, and Medicare lines split into CQ/CO and not).
CARE = (("therapist", 0.65), ("assistant", 0.22), ("shared", 0.13))
OTHER_TIMED = {  # code: probability on a visit (PT; OT swaps 97116 for 97535)
    "97110": 0.55, "97140": 0.35, "97116": 0.2, "97530": 0.3, "97035": 0.08,
}
PRICE = {"97112": 62.0, "97110": 58.0, "97140": 55.0, "97116": 52.0, "97530": 64.0,
         "97035": 30.0, "97535": 56.0, "97161": 160.0, "97165": 170.0, "97010": 20.0}
ALL_CODES = ("97112", "97110", "97140", "97116", "97530", "97035", "97535", "97161", "97165",
             "97010")
DIAGNOSES = ("I69.351", "G20.A1", "R26.81", "R26.89", "G35", "S06.2X0S", "M62.81", "R27.8",
             "Z96.651")
DEFICITS = (
    "Impaired standing balance, Berg 38/56, high fall risk",
    "Decreased proprioception L ankle after ORIF; unable to single-leg stand > 3 s",
    "Impaired coordination R upper extremity after CVA; finger-to-nose dysmetria",
    "Postural instability and freezing of gait (Parkinson's disease)",
    "Ataxic gait and poor trunk control (MS); TUG 18 s",
)
GOALS = (
    "Berg >= 46/56 in 6 weeks to reduce fall risk",
    "Single-leg stance 10 s L in 4 weeks for stair negotiation",
    "TUG < 12 s in 8 weeks for community ambulation",
    "Independent tub transfer with supervision only in 6 weeks",
)
TECHNIQUES = (
    "Balance and perturbation training on foam; tandem stance with head turns",
    "PNF diagonals D1/D2 with rhythmic stabilization",
    "BAPS board proprioceptive training, weight shifting with visual feedback",
    "Bobath facilitation of trunk control in sitting and standing",
)
CANALITH = "Epley canalith repositioning maneuver for R posterior canal BPPV"
RESPONSES = (
    "Tolerated well; improved stance time, fewer loss-of-balance events",
    "Required moderate cues initially, decreasing to minimal by end of session",
    "Progressing toward goals; Berg improved 4 points since last report",
)


@dataclass(frozen=True)
class World:
    providers: pd.DataFrame  # rendering_npi, provider_credential, clinic_id


def npi_with_check_digit(base: np.ndarray) -> np.ndarray:
    """Ten-digit NPIs from nine-digit bases: Luhn check digit with the 80840 prefix."""
    digits = np.array([[int(c) for c in f"{b:09d}"] for b in base])
    doubled = digits[:, 0::2] * 2
    digits[:, 0::2] = doubled // 10 + doubled % 10
    check = (10 - (digits.sum(axis=1) + 24) % 10) % 10
    return np.array([f"{b:09d}{c}" for b, c in zip(base, check, strict=True)])


def build_world(seed: int, providers_per_clinic: int = 8) -> World:
    rng = np.random.default_rng([seed, 0])
    count = len(CLINICS) * providers_per_clinic
    creds, weights = zip(*CREDENTIALS, strict=True)
    providers = pd.DataFrame({
        "rendering_npi": npi_with_check_digit(rng.choice(np.arange(100_000_000, 299_999_999),
                                                         size=count, replace=False)),
        "provider_credential": rng.choice(creds, size=count, p=weights),
        "clinic_id": np.repeat(CLINICS, providers_per_clinic),
    })
    return World(providers=providers)
