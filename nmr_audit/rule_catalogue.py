"""What each rule means and what to fix, for the reports: one row per rule id.

The reports take this catalogue as a frame (`rule_id, severity, meaning, fix, source`) and
never read the rules' text anywhere else. `rule_catalogue()` is the one place it comes from:
until the rule registry of `nmr_audit.contract` lands, from the table below; then its body
becomes a frame of that registry (same columns), and this table goes.
"""

from __future__ import annotations

import pandas as pd

CATALOGUE_COLUMNS = ("rule_id", "severity", "meaning", "fix", "source")

_CMS_TIME = "Medicare Claims Processing Manual (Pub. 100-04) ch. 5 §20.2"
_AMA_TIME = "CPT midpoint rule (AMA)"
_BPM_NOTES = "Medicare Benefit Policy Manual (Pub. 100-02) ch. 15 §220.3"
_BPM_POC = "Medicare Benefit Policy Manual (Pub. 100-02) ch. 15 §220.1.3"

# (rule_id, severity, meaning, fix, source): the contract's rule ids, v1 and v1.1.
_RULES = (
    ("UNITS_EXCEED_TIME", "high",
     "More 97112 units were billed than the note's minutes support under the visit's rule basis "
     "(CMS 8-minute rule or AMA midpoint rule).",
     "Bill the supported units (see the visit's explanation), or correct the note's minutes if the time "
     "was documented wrongly; refund units already paid.", f"{_CMS_TIME}; {_AMA_TIME}"),
    ("TIMED_UNITS_EXCEED_TOTAL", "high",
     "All timed units billed on the visit exceed what the day's total timed minutes support.",
     "Reduce the timed units to the pooled total (8–22 min = 1 unit, 23–37 = 2, …) and re-allot them "
     "among the codes.", _CMS_TIME),
    ("UNITS_BELOW_TIME", "info",
     "The documented 97112 minutes support more units than were billed: revenue left behind.",
     "Check the charge entry; bill the supported units if the visit's timed total allows it.", _CMS_TIME),
    ("NO_NOTE", "high",
     "A 97112 line has no treatment note for its patient, date and rendering provider.",
     "Find and attach the signed note (check the date and NPI match), or void the line.",
     _BPM_NOTES),
    ("NO_97112_TIME", "high",
     "The note itemizes minutes but none for 97112, yet 97112 was billed.",
     "Add the 97112 minutes to the note if they were documented elsewhere, or remove the 97112 units.",
     _BPM_NOTES),
    ("UNBILLED_97112", "info",
     "The note documents 97112 minutes worth at least one unit and no 97112 line was billed.",
     "Review the charge entry: the service may be missing from the claim.", _CMS_TIME),
    ("MISSING_THERAPY_MODIFIER", "high",
     "The 97112 line carries none of GP, GO or GN (therapy discipline), which every therapy service needs.",
     "Add the discipline's modifier (GP physical, GO occupational, GN speech therapy) and resubmit.",
     "CMS CR 10176 (2018)"),
    ("THERAPY_MODIFIER_MISMATCH", "medium",
     "The line's GP/GO/GN modifier disagrees with the discipline of the provider who wrote the note.",
     "Use the modifier of the plan of care's discipline; check the rendering provider.", "CMS CR 10176 (2018)"),
    ("MISSING_NCCI_MODIFIER", "high",
     "97112 was billed the same day with a code it forms an NCCI procedure-to-procedure edit with, "
     "and neither line carries 59, XE, XS, XP or XU.",
     "If the services were distinct (separate time, separate body area), add 59 or an X modifier and "
     "document why; otherwise bill only the column 1 code.", "CMS NCCI practitioner PTP edits (quarterly file)"),
    ("MUE_EXCEEDED", "high",
     "97112 units for one patient and day are above the medically unlikely edit.",
     "Check the units; bill above the MUE only with documentation of why, expecting review.",
     "CMS practitioner MUE table (97112 value unverified here)"),
    ("MISSING_ASSISTANT_MODIFIER", "medium",
     "Care furnished in whole or in part by a PTA/OTA is billed without CQ/CO on the units it must carry "
     "(Medicare rules, de minimis over 10%).",
     "Add CQ (with GP) or CO (with GO) to the assistant's units; payment is 85% for those units.",
     "CY 2020 and CY 2022 Medicare PFS final rules (CQ/CO de minimis)"),
    ("MISSING_NECESSITY_FIELD", "medium",
     "The note lacks an element that supports medical necessity (the `field` column names it).",
     "Complete the named field in the note (addendum, dated and signed) before the claim is reviewed.",
     _BPM_NOTES),
    ("PLAN_OF_CARE_MISSING", "high",
     "Medicare payer: no certified plan of care, or it was signed after the date of service.",
     "Obtain the physician/NPP's dated signature on the plan of care; hold claims until it is certified.",
     _BPM_POC),
    ("PLAN_OF_CARE_EXPIRED", "medium",
     "The date of service is more than 90 days after the plan of care was certified.",
     "Recertify the plan of care (at least every 90 days) and hold later visits until it is signed.", _BPM_POC),
    ("TIME_INCONSISTENT", "medium",
     "The note's times disagree: time in to time out is shorter than the treatment minutes, or the "
     "itemized minutes add up to more than the totals.",
     "Correct the note's times or minutes so that they agree, then recheck the units.", _BPM_NOTES),
    ("NOT_ONE_ON_ONE", "high",
     "The 97112 time was not one-on-one (group or concurrent), which 97112 requires.",
     "Bill group time as 97150, not 97112.", "CPT 97112 and 97150 descriptors"),
    ("NOTE_UNSIGNED", "medium",
     "The treatment note is not signed by the provider.",
     "Have the provider sign the note (with credentials) before the claim goes out.",
     _BPM_NOTES),
    ("DUPLICATE_LINE", "high",
     "97112 is on more than one line for the same patient, date and provider: double billing, or one "
     "timed code split over lines, which Medicare rejects.",
     "Report 97112 on one line with the day's units (separate lines only for units with and without CQ/CO).",
     "Medicare MAC notices (timed codes on one line from 19 April 2021)"),
    ("CANALITH_AS_97112", "medium",
     "The techniques describe canalith repositioning (Epley, Semont), which is billed as 95992, not 97112.",
     "Bill 95992 (once a day, untimed) for the repositioning; keep 97112 only for re-education time.",
     "CPT 95992 (since 2011)"),
    ("FIELD_UNREADABLE", "low",
     "An optional value in the export could not be read; the row was audited without it "
     "(medium when it blocked a unit check).",
     "Fix the value in the clinic's export at the file and column shown, then re-run the audit.",
     "nmr-audit data contract v1.1"),
    ("NOTE_QUARANTINED", "medium",
     "The visit's note exists but was quarantined (the message names the reason, file and line), "
     "so the visit was audited as if it had none.",
     "Fix the note's row in the export (see the quarantine section) and re-run the audit.",
     "nmr-audit data contract v1.1"),
    ("DAY_UNITS_EXCEED_TIME", "medium",
     "A patient's timed units of one discipline on one date at one clinic, across providers, exceed "
     "what the day's pooled minutes support.",
     "Re-allot the day's units across the providers' lines from the pooled minutes.", _CMS_TIME),
    ("PAYER_EDIT", "high",
     "A payer-specific code-pair edit from the payer overlay table is broken.",
     "Follow the payer's edit: add the modifier it accepts or bill only the allowed code.",
     "the payer's published edits (payer overlay table)"),
    ("KX_MISSING", "high",
     "The line is past the beneficiary's yearly therapy threshold and lacks KX.",
     "Add KX when the care is medically necessary and documented so; otherwise the line is denied.",
     "CMS Therapy Services page; Bipartisan Budget Act of 2018"),
    ("KX_REVIEW_THRESHOLD", "info",
     "The beneficiary's yearly therapy amount passed the targeted medical review amount ($3,000).",
     "Make sure the notes justify continued care: these claims may be picked for medical review.",
     "Bipartisan Budget Act of 2018"),
    ("PROGRESS_REPORT_OVERDUE", "medium",
     "More than 10 treatment days have passed since the last progress report.",
     "Write the progress report (by the therapist) and date it within the 10-day window.",
     _BPM_NOTES + ".D"),
)


def rule_catalogue() -> pd.DataFrame:
    """One row per rule: `rule_id, severity, meaning, fix, source` (all `str`).

    Switch-over point: when `nmr_audit.contract` has the rule registry, build this frame from it
    here (same columns); nothing else changes.
    """
    return pd.DataFrame(list(_RULES), columns=list(CATALOGUE_COLUMNS)).astype("str")
