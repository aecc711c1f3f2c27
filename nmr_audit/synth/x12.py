"""Synthetic 837P claims and 835 remittances written from generated chunks, with truth beside them.

The claims are the generator's claim lines (defects injected) as a clearinghouse would send them:
one 2000A billing provider (the clinic's billing NPI, `BILLING_NPIS`) and one 2000B subscriber
(member id = the notes' patient id) per claim, 2310B rendering provider, 2420A where a line's
rendering NPI differs, `REF*6R` line control numbers `<claim>-<line>`. `data/mappings/x12_837p.yaml`
maps the billing NPIs back to the clinic ids.

The remittances answer each claim as a payer would, following the injected defects (payers see
the claim, not the note): a line without its therapy modifier is denied CO-4, a 97112 line that
lost its 59 with an NCCI partner CO-236, an over-billed line is reduced by a unit (CO-151, SVC07
the units billed), a claim the generator meant for quarantine (bad units, NPI or date) is denied
CO-16; documentation defects (no note, unsigned, missing fields, group time, canalith) are found
only on post-payment review: with probability `review_rate` the payment is reversed (CLP02 22)
and recouped through a PLB WO adjustment, the line then denied CO-50. Clean lines are paid the
allowed amount with CO-45 (and PR-2 coinsurance for Medicare payer types); a small `noise_rate`
of clean lines is denied CO-50 anyway. `remit_truth.parquet` says what happened to each line and
why. Prices, allowed shares and rates are generator settings, not billing facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nmr_audit.synth.world import CLINICS, npi_with_check_digit

BILLING_NPIS = dict(zip(CLINICS, npi_with_check_digit(np.arange(150_000_000, 150_000_000 + len(CLINICS))), strict=True))
FILING_INDICATORS = {"MCR-B": "MB", "MA-SUNCOAST": "16", "MCD-STATE": "MC", "BCBS-PPO": "BL", "AETNA-HMO": "HM",
                     "WC-GRANITE": "WC", "SELF-PAY": "ZZ"}
ALLOWED_SHARE = 0.55  # allowed amount / charge (generator setting)
COINSURANCE = 0.20
DENIALS = {"missing_therapy_modifier": "4", "missing_ncci_modifier": "236", "bad_claim_row": "16"}
REVIEWED = {"missing_note": "50", "missing_note_field": "50", "unsigned_note": "50", "not_one_on_one": "50",
            "canalith_as_97112": "50"}
ISA = ("ISA*00*          *00*          *ZZ*NMRAUDITSYNTH  *ZZ*{receiver:<15}*260101*1200*^*00501*{control:09d}*0*T*:")
TRUTH_COLUMNS = ("claim_id", "line_number", "payer_id", "outcome", "carc", "defect", "units_billed", "units_paid",
                 "paid_amount")


@dataclass
class _Interchange:
    """One X12 file being written: ISA/GS opened, transaction sets appended, trailers counted."""

    path: Path
    kind: str  # 837 | 835
    transactions: int = 0
    handle: object = None
    _text: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("w", encoding="ascii", newline="")
        group, version = ("HC", "005010X222A1") if self.kind == "837" else ("HP", "005010X221A1")
        receiver = "CLEARINGHOUSE" if self.kind == "837" else "BALANCEPT"
        self.handle.write(ISA.format(receiver=receiver, control=1) + "~\n")
        self.handle.write(f"GS*{group}*NMRAUDITSYNTH*{receiver}*20260101*1200*1*X*{version}~\n")

    def transaction(self, body: list[str]) -> None:
        self.transactions += 1
        control = f"{self.transactions:04d}"
        st = f"ST*{self.kind}*{control}" + ("*005010X222A1" if self.kind == "837" else "")
        self.handle.write("~\n".join([st, *body, f"SE*{len(body) + 2}*{control}"]) + "~\n")

    def close(self) -> None:
        self.handle.write(f"GE*{self.transactions}*1~\nIEA*1*000000001~\n")
        self.handle.close()


class X12Writer:
    """Claims as one 837P interchange and their remittances as one 835 interchange, chunk by
    chunk (a transaction set per chunk, and per payer for the 835); `close()` writes the truth."""

    def __init__(self, claims_path: Path, remits_path: Path, truth_path: Path, seed: int,
                 review_rate: float = 0.6, noise_rate: float = 0.02) -> None:
        self.claims = _Interchange(claims_path, "837")
        self.remits = _Interchange(remits_path, "835")
        self.claims.open()
        self.remits.open()
        self.truth_path = truth_path
        self.rng = np.random.default_rng([seed, 18])
        self.review_rate, self.noise_rate = review_rate, noise_rate
        self.truths: list[pd.DataFrame] = []

    def write(self, claim_lines: pd.DataFrame, truth: pd.DataFrame) -> None:
        """Append one chunk: `claim_lines` in the generator's shape (text dates, units maybe
        corrupted), `truth` the chunk's injected defects."""
        lines = claim_lines.sort_values(["claim_id", "line_number"], kind="stable").reset_index(drop=True)
        self.claims.transaction(_claims_body(lines))
        outcome = self._outcomes(lines, truth)
        for payer, part in outcome.groupby("payer_id", sort=True):
            self.remits.transaction(_remit_body(str(payer), part))
        self.truths.append(outcome[list(TRUTH_COLUMNS)])

    def close(self) -> None:
        self.claims.close()
        self.remits.close()
        truth = pd.concat(self.truths, ignore_index=True) if self.truths else pd.DataFrame(columns=list(TRUTH_COLUMNS))
        truth.to_parquet(self.truth_path, index=False)

    def _outcomes(self, lines: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
        """Per claim line: outcome (paid, denied, reduced, recouped), CARC, the defect behind it."""
        defects = truth.dropna(subset=["claim_id"]).drop_duplicates(["claim_id", "line_number"])
        keyed = lines.merge(defects[["claim_id", "line_number", "defect"]].astype({"line_number": "int64"}),
                            on=["claim_id", "line_number"], how="left")
        note_defects = truth.dropna(subset=["note_id"])[["note_id", "defect"]]
        visit_note = "NOTE" + keyed["claim_id"].str[3:]
        noted = visit_note.map(note_defects.drop_duplicates("note_id").set_index("note_id")["defect"])
        defect = keyed["defect"].fillna(noted.where(keyed["cpt_code"] == "97112"))
        claim_bad = keyed["claim_id"].isin(keyed.loc[defect == "bad_claim_row", "claim_id"])
        units = pd.to_numeric(keyed["units"], errors="coerce").fillna(0).astype("int64").clip(lower=0)
        draw = self.rng.random(len(keyed))
        outcome = np.full(len(keyed), "paid", dtype=object)
        carc = np.full(len(keyed), "", dtype=object)
        denied = defect.isin(list(DENIALS)).to_numpy()
        outcome[denied] = "denied"
        carc[denied] = defect[denied].map(DENIALS).to_numpy()
        outcome[claim_bad.to_numpy()] = "denied"
        carc[claim_bad.to_numpy()] = "16"
        reduced = (defect == "overbilled_units").to_numpy() & ~claim_bad.to_numpy()
        outcome[reduced] = "reduced"
        carc[reduced] = "151"
        reviewed = defect.isin(list(REVIEWED)).to_numpy() & (draw < self.review_rate) & (outcome == "paid")
        outcome[reviewed] = "recouped"
        carc[reviewed] = "50"
        noise = (outcome == "paid") & defect.isna().to_numpy() & (draw < self.noise_rate)
        outcome[noise] = "denied"
        carc[noise] = "50"
        units_paid = np.where(outcome == "reduced", np.maximum(units - 1, 0), np.where(outcome == "denied", 0, units))
        charge = keyed["charge_amount"].astype("float64")
        per_unit = (charge / units.where(units > 0, 1)).to_numpy()
        allowed = np.round(per_unit * units_paid * ALLOWED_SHARE, 2)
        medicare = keyed["payer_type"].isin(["medicare", "medicare_advantage"]).to_numpy()
        coinsurance = np.where(medicare, np.round(allowed * COINSURANCE, 2), 0.0)
        return keyed.assign(defect=defect, outcome=outcome, carc=carc, units_billed=units, units_paid=units_paid,
                            allowed=allowed, coinsurance=coinsurance, paid_amount=np.round(allowed - coinsurance, 2))


def _x12_date(text: pd.Series) -> pd.Series:
    return text.astype("str").str.replace("-", "", regex=False)


def _claims_body(lines: pd.DataFrame) -> list[str]:
    """The 837P segments of the chunk's claims (HL numbering restarts per transaction set)."""
    body = ["BHT*0019*00*NMRSYNTH*20260101*1200*CH", "NM1*41*2*NMR AUDIT SYNTHETIC*****46*NMRSYNTH",
            "PER*IC*BILLING DESK*TE*5555550100", "NM1*40*2*CLEARINGHOUSE*****46*CLEARINGHOUSE"]
    rendering = lines.groupby(["claim_id", "rendering_npi"]).size().reset_index().sort_values(
        ["claim_id", 0], ascending=[True, False], kind="stable").drop_duplicates("claim_id").set_index("claim_id")[
        "rendering_npi"]
    dates = _x12_date(lines["date_of_service"])
    hl = 0
    for claim_id, claim in lines.groupby("claim_id", sort=False):
        first = claim.iloc[0]
        hl += 2
        diagnoses = [d.replace(".", "") for d in str(first["diagnosis_codes"]).split(";") if d and d != "nan"]
        hi = "*".join(f"{'ABK' if i == 0 else 'ABF'}:{d}" for i, d in enumerate(diagnoses))
        pointers = ":".join(str(i + 1) for i in range(min(len(diagnoses), 4)))
        claim_npi = rendering[claim_id]
        body += [f"HL*{hl - 1}**20*1", f"NM1*85*2*BALANCE PT {first['clinic_id']}*****XX*{BILLING_NPIS[first['clinic_id']]}",
                 "N3*1 CLINIC WAY", "N4*MIAMI*FL*33111", "REF*EI*587654321",
                 f"HL*{hl}*{hl - 1}*22*0", f"SBR*P*18*******{FILING_INDICATORS.get(first['payer_id'], 'ZZ')}",
                 f"NM1*IL*1*PATIENT*SYNTHETIC****MI*{first['patient_id']}",
                 f"NM1*PR*2*{first['payer_id']}*****PI*{first['payer_id']}",
                 f"CLM*{claim_id}*{claim['charge_amount'].astype('float64').sum():.2f}***11:B:1*Y*A*Y*Y"]
        if hi:
            body.append(f"HI*{hi}")
        body.append(f"NM1*82*1*THERAPIST*SYNTHETIC****XX*{claim_npi}")
        for row, date in zip(claim.itertuples(index=False), dates[claim.index], strict=True):
            modifiers = "".join(f":{m}" for m in str(row.modifiers).split(",") if m and m != "nan")
            body += [f"LX*{row.line_number}", f"SV1*HC:{row.cpt_code}{modifiers}*{float(row.charge_amount):.2f}*UN*"
                     f"{row.units}***{pointers}", f"DTP*472*D8*{date}", f"REF*6R*{claim_id}-{row.line_number}"]
            if row.rendering_npi != claim_npi:
                body.append(f"NM1*82*1*THERAPIST*SYNTHETIC****XX*{row.rendering_npi}")
    return body


def _remit_body(payer: str, lines: pd.DataFrame) -> list[str]:
    """One payer's 835: a CLP per claim, an SVC per line with its CAS, reversals and PLB recoupments."""
    paid_total = float(lines["paid_amount"].where(lines["outcome"] != "recouped", 0).sum())
    body = [f"BPR*I*{paid_total:.2f}*C*ACH*CCP*01*999999992*DA*123456*1512345678**01*999988880*DA*98765*20260301",
            f"TRN*1*{payer}-0001*1512345678", f"N1*PR*{payer}", "N3*1 PAYER WAY", "N4*CENTERVILLE*PA*17111",
            f"REF*2U*{payer}", "PER*BL*PROVIDER SERVICES*TE*8005551212", "N1*PE*BALANCE PT*XX*1500000009", "LX*1"]
    recoupments: list[tuple[str, float]] = []
    for claim_id, claim in lines.groupby("claim_id", sort=False):
        body += _remit_claim(claim_id, claim, status="4" if (claim["outcome"] == "denied").all() else "1")
        recouped = claim[claim["outcome"] == "recouped"]
        if len(recouped):
            body += _remit_claim(claim_id, claim, status="22")
            recoupments.append((f"PCN-{claim_id}", float(recouped["paid_amount"].sum())))
    for reference, amount in recoupments:
        body.append(f"PLB*1500000009*20261231*WO:{reference}*{amount:.2f}")
    return body


def _remit_claim(claim_id: str, claim: pd.DataFrame, status: str) -> list[str]:
    """A CLP and its SVCs: the original adjudication (status 1/4), or with status 22 the reversal
    of a recouped line's payment (negative amounts) and its denial CO-50."""
    reversal = status == "22"
    part = claim[claim["outcome"] == "recouped"] if reversal else claim
    sign = -1 if reversal else 1
    charge = float(part["charge_amount"].astype("float64").sum())
    paid = float(part["paid_amount"].sum())
    patient = float(part["coinsurance"].sum())
    filing = FILING_INDICATORS.get(str(claim["payer_id"].iloc[0]), "ZZ")
    segments = [f"CLP*{claim_id}*{status}*{sign * charge:.2f}*{sign * paid:.2f}*{sign * patient:.2f}*{filing}*"
                f"PCN-{claim_id}*11*1", f"NM1*QC*1*PATIENT*SYNTHETIC****MI*{claim['patient_id'].iloc[0]}"]
    for row in part.itertuples(index=False):
        modifiers = "".join(f":{m}" for m in str(row.modifiers).split(",") if m and m != "nan")
        line_charge = float(row.charge_amount)
        units = f"{row.units_paid}" + (f"**{row.units_billed}" if row.units_paid != row.units_billed else "")
        line_paid = sign * row.paid_amount
        segments.append(f"SVC*HC:{row.cpt_code}{modifiers}*{sign * line_charge:.2f}*{line_paid:.2f}**{units}")
        if not pd.isna(pd.to_datetime(row.date_of_service, format="%Y-%m-%d", errors="coerce")):
            segments.append(f"DTM*472*{str(row.date_of_service).replace('-', '')}")
        if reversal:
            segments.append(f"CAS*CO*50*{row.paid_amount:.2f}")
        elif row.outcome == "denied":
            segments.append(f"CAS*CO*{row.carc}*{line_charge:.2f}")
        else:
            contractual = round(line_charge - row.allowed, 2)
            if row.outcome == "reduced":
                segments.append(f"CAS*CO*151*{line_charge / max(row.units_billed, 1):.2f}*1*45*"
                                f"{contractual - line_charge / max(row.units_billed, 1):.2f}")
            else:
                segments.append(f"CAS*CO*45*{contractual:.2f}")
            if row.coinsurance:
                segments.append(f"CAS*PR*2*{row.coinsurance:.2f}")
        segments.append(f"REF*6R*{claim_id}-{row.line_number}")
    return segments
