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
CO-16 (a line with a denial defect and an over-billing is denied, not
reduced); documentation defects (no note, unsigned, missing fields, group time, canalith) are found
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
                     "WC-GRANITE": "WC", "SELF-PAY": "ZZ", "SYNTH-CMSWAY-PPO": "12", "SYNTH-TRICARE-EAST": "CH"}
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
        """One ST … SE around `body` (texts of one or more segments joined by `~\\n`)."""
        self.transactions += 1
        control = f"{self.transactions:04d}"
        st = f"ST*{self.kind}*{control}" + ("*005010X222A1" if self.kind == "837" else "")
        text = "~\n".join([st, *body])
        self.handle.write(f"{text}~\nSE*{text.count('~') + 2}*{control}~\n")

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
        defects = truth.dropna(subset=["claim_id"])
        denial_first = (~defects["defect"].isin(list(DENIALS))).to_numpy().argsort(kind="stable")
        defects = defects.iloc[denial_first].drop_duplicates(["claim_id", "line_number"])  # a denial beats a cut unit
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


def _money(values: pd.Series | np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(values, dtype="float64")).map("{:.2f}".format)


def _modifiers(modifiers: pd.Series) -> pd.Series:
    """'GP,59' as ':GP:59' (the SV101/SVC01 components)."""
    text = modifiers.fillna("").astype("str").str.replace(" ", "", regex=False)
    return (":" + text.str.replace(",", ":", regex=False)).where(text != "", "")


def _blocks(order: pd.DataFrame, text: pd.Series) -> list[str]:
    """Texts (each one or more segments joined by the terminator) in the order of `order`'s columns."""
    return text.iloc[np.lexsort([order[c].to_numpy() for c in reversed(order.columns)])].tolist()


def _claims_body(lines: pd.DataFrame) -> list[str]:
    """The 837P segments of the chunk's claims, built column-wise: per claim a 2000A billing
    provider and a 2000B subscriber loop (HL numbering restarts per transaction set), the CLM,
    HI and 2310B; per line LX, SV1, DTP*472, REF*6R and a 2420A where its NPI differs."""
    lines = lines.reset_index(drop=True)
    claim_no = pd.factorize(lines["claim_id"])[0]
    first = lines.drop_duplicates("claim_id")
    counts = lines.groupby("claim_id", sort=False)["rendering_npi"].value_counts()
    rendering = counts.reset_index().drop_duplicates("claim_id").set_index("claim_id")["rendering_npi"]
    diagnoses = first["diagnosis_codes"].fillna("").astype("str").str.replace(".", "", regex=False).str.split(";")
    hi = diagnoses.map(lambda codes: "*".join(f"{'ABK' if i == 0 else 'ABF'}:{c}" for i, c in enumerate(c for c in codes if c)))
    pointers = diagnoses.map(lambda codes: ":".join(str(i + 1) for i in range(min(len([c for c in codes if c]), 4))))
    hl = 2 * np.arange(len(first)) + 1
    charge = lines.groupby("claim_id", sort=False)["charge_amount"].sum().reindex(first["claim_id"]).to_numpy()
    billing = first["clinic_id"].map(BILLING_NPIS)
    header = ("HL*" + pd.Series(hl).astype("str").to_numpy() + "**20*1~\nNM1*85*2*BALANCE PT " + first["clinic_id"]
              + "*****XX*" + billing + "~\nN3*1 CLINIC WAY~\nN4*MIAMI*FL*33111~\nREF*EI*587654321~\nHL*"
              + pd.Series(hl + 1).astype("str").to_numpy() + "*" + pd.Series(hl).astype("str").to_numpy()
              + "*22*0~\nSBR*P*18*******" + first["payer_id"].map(FILING_INDICATORS).fillna("ZZ")
              + "~\nNM1*IL*1*PATIENT*SYNTHETIC****MI*" + first["patient_id"] + "~\nNM1*PR*2*" + first["payer_id"]
              + "*****PI*" + first["payer_id"] + "~\nCLM*" + first["claim_id"] + "*" + _money(charge).to_numpy()
              + "***11:B:1*Y*A*Y*Y" + ("~\nHI*" + hi).where(hi != "", "") + "~\nNM1*82*1*THERAPIST*SYNTHETIC****XX*"
              + first["claim_id"].map(rendering))
    claim_npi = lines["claim_id"].map(rendering)
    line_pointers = lines["claim_id"].map(pd.Series(pointers.to_numpy(), index=first["claim_id"]))
    number = lines["line_number"].astype("str")
    body = ("LX*" + number + "~\nSV1*HC:" + lines["cpt_code"] + _modifiers(lines["modifiers"]) + "*"
            + _money(lines["charge_amount"]) + "*UN*" + lines["units"].astype("str") + "***" + line_pointers
            + "~\nDTP*472*D8*" + _x12_date(lines["date_of_service"]) + "~\nREF*6R*" + lines["claim_id"] + "-" + number
            + ("~\nNM1*82*1*THERAPIST*SYNTHETIC****XX*" + lines["rendering_npi"]).where(lines["rendering_npi"] != claim_npi, ""))
    order = pd.DataFrame({"claim": np.concatenate([np.arange(len(first)), claim_no]),
                          "part": np.concatenate([np.zeros(len(first), dtype="int64"), np.arange(1, len(lines) + 1)])})
    texts = pd.concat([header.reset_index(drop=True), body], ignore_index=True)
    return ["BHT*0019*00*NMRSYNTH*20260101*1200*CH~\nNM1*41*2*NMR AUDIT SYNTHETIC*****46*NMRSYNTH~\n"
            "PER*IC*BILLING DESK*TE*5555550100~\nNM1*40*2*CLEARINGHOUSE*****46*CLEARINGHOUSE", *_blocks(order, texts)]


def _remit_body(payer: str, lines: pd.DataFrame) -> list[str]:
    """One payer's 835, built column-wise: per claim its CLP (status 4 when every line was
    denied), per line SVC, DTM*472, CAS and REF*6R; for a claim with recouped lines a reversal
    CLP (22) of their payment with CAS CO-50, and per recoupment a PLB WO adjustment."""
    lines = lines.reset_index(drop=True)
    claim_no = pd.factorize(lines["claim_id"])[0]
    recouped = (lines["outcome"] == "recouped").to_numpy()
    paid_total = float(lines["paid_amount"].where(~recouped, 0).sum())
    original = _remit_claims(lines, claim_no, reversal=False)
    parts = [original]
    if recouped.any():
        parts.append(_remit_claims(lines[recouped], claim_no[recouped], reversal=True))
    ordered = pd.concat(parts, ignore_index=True)
    text = _blocks(ordered[["claim", "block", "part"]], ordered["text"])
    recoupments = lines[recouped].groupby("claim_id", sort=False)["paid_amount"].sum()
    plb = [f"PLB*1500000009*20261231*WO:PCN-{claim}*{amount:.2f}" for claim, amount in recoupments.items()]
    return [f"BPR*I*{paid_total:.2f}*C*ACH*CCP*01*999999992*DA*123456*1512345678**01*999988880*DA*98765*20260301~\n"
            f"TRN*1*{payer}-0001*1512345678~\nN1*PR*{payer}~\nN3*1 PAYER WAY~\nN4*CENTERVILLE*PA*17111~\n"
            f"REF*2U*{payer}~\nPER*BL*PROVIDER SERVICES*TE*8005551212~\nN1*PE*BALANCE PT*XX*1500000009~\nLX*1",
            *text, *plb]


def _remit_claims(lines: pd.DataFrame, claim_no: np.ndarray, reversal: bool) -> pd.DataFrame:
    """The CLP and SVC texts of the lines' claims, with their order keys (claim, block, part)."""
    lines = lines.reset_index(drop=True)
    sign = -1.0 if reversal else 1.0
    grouped = lines.assign(charge=lines["charge_amount"].astype("float64")).groupby("claim_id", sort=False)
    claims = grouped.agg(charge=("charge", "sum"), paid=("paid_amount", "sum"), patient=("coinsurance", "sum"),
                         payer=("payer_id", "first"), member=("patient_id", "first"),
                         denied=("outcome", lambda o: bool((o == "denied").all())))
    status = "22" if reversal else pd.Series(np.where(claims["denied"], "4", "1"), index=claims.index)
    clp = ("CLP*" + claims.index + "*" + status + "*" + _money(sign * claims["charge"]).to_numpy() + "*"
           + _money(sign * claims["paid"]).to_numpy() + "*" + _money(sign * claims["patient"]).to_numpy() + "*"
           + claims["payer"].map(FILING_INDICATORS).fillna("ZZ") + "*PCN-" + claims.index
           + "*11*1~\nNM1*QC*1*PATIENT*SYNTHETIC****MI*" + claims["member"])
    charge = lines["charge_amount"].astype("float64")
    billed = lines["units_billed"].to_numpy()
    units = pd.Series(lines["units_paid"].astype("str").to_numpy()) + pd.Series(
        np.where(lines["units_paid"].to_numpy() != billed, "**" + pd.Series(billed).astype("str"), ""))
    valid_date = pd.to_datetime(lines["date_of_service"], format="%Y-%m-%d", errors="coerce").notna()
    per_unit = charge / np.maximum(billed, 1)
    contractual = (charge - lines["allowed"]).round(2)
    if reversal:
        cas = "~\nCAS*CO*50*" + _money(lines["paid_amount"])
    else:
        denied = "~\nCAS*CO*" + lines["carc"] + "*" + _money(charge)
        reduced = "~\nCAS*CO*151*" + _money(per_unit) + "*1*45*" + _money(contractual - per_unit)
        paid = "~\nCAS*CO*45*" + _money(contractual)
        cas = pd.Series(np.select([lines["outcome"] == "denied", lines["outcome"] == "reduced"], [denied, reduced], paid))
        cas = cas + ("~\nCAS*PR*2*" + _money(lines["coinsurance"])).where(
            (lines["coinsurance"] > 0).to_numpy() & (lines["outcome"] != "denied").to_numpy(), "")
    svc = ("SVC*HC:" + lines["cpt_code"] + _modifiers(lines["modifiers"]) + "*" + _money(sign * charge) + "*"
           + _money(sign * lines["paid_amount"]) + "**" + units
           + ("~\nDTM*472*" + _x12_date(lines["date_of_service"])).where(valid_date, "") + cas
           + "~\nREF*6R*" + lines["claim_id"] + "-" + lines["line_number"].astype("str"))
    first_no = pd.Series(claim_no).groupby(lines["claim_id"].to_numpy(), sort=False).first().reindex(claims.index)
    block = 1 if reversal else 0
    return pd.DataFrame({
        "claim": np.concatenate([first_no.to_numpy(), claim_no]),
        "block": block,
        "part": np.concatenate([np.zeros(len(claims), dtype="int64"), np.arange(1, len(lines) + 1)]),
        "text": np.concatenate([clp.to_numpy(), svc.to_numpy()]),
    })
