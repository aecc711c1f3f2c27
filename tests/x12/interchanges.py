"""Build small X12 interchanges for tests: a body of segments wrapped in a counted envelope.

Values are synthetic (names, member ids, NPIs with valid check digits invented for tests); the
loop layout follows the examples of the 005010X222A1 and 005010X221A1 implementation guides.
"""

from __future__ import annotations

from pathlib import Path

ISA = ("ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*RECEIVER01     *260110*1200*^*00501*"
       "000000905*0*T*:")
BILLING_NPI = "1234567893"
RENDERING_2310B = "9876543213"
RENDERING_2420A = "1112223338"
FACILITY_NPI = "4445556663"

HEADER_837 = [
    "BHT*0019*00*0123*20260110*1200*CH",
    "NM1*41*2*BALANCE BILLING SERVICE*****46*TGJ23",
    "PER*IC*BILLING DESK*TE*5555550100",
    "NM1*40*2*KEY INSURANCE COMPANY*****46*66783JJT",
    "HL*1**20*1",
    "PRV*BI*PXC*225100000X",
    f"NM1*85*2*BALANCE PHYSICAL THERAPY*****XX*{BILLING_NPI}",
    "N3*234 SEAWAY ST",
    "N4*MIAMI*FL*33111",
    "REF*EI*587654321",
]


def subscriber(hl: int, filing: str, member: str, payer: str, child: int = 0) -> list[str]:
    """Loop 2000B with 2010BA (subscriber) and 2010BB (payer)."""
    return [f"HL*{hl}*1*22*{child}", f"SBR*P*18*******{filing}", f"NM1*IL*1*DOE*JANE****MI*{member}",
            "N3*236 N MAIN ST", "N4*MIAMI*FL*33413", "DMG*D8*19430501*F", f"NM1*PR*2*PAYER {payer}*****PI*{payer}"]


def claim(claim_id: str, frequency: str = "1", charge: str = "100") -> str:
    return f"CLM*{claim_id}*{charge}***11:B:{frequency}*Y*A*Y*Y"


def line(number: int, procedure: str, charge: str, units: str, pointers: str = "1", date: str = "20260105",
         basis: str = "UN", control: str | None = None) -> list[str]:
    segments = [f"LX*{number}", f"SV1*HC:{procedure}*{charge}*{basis}*{units}***{pointers}", f"DTP*472*D8*{date}"]
    if control:
        segments.append(f"REF*6R*{control}")
    return segments


def interchange(body: list[str], transaction: str = "837", version: str = "005010X222A1",
                se_count: int | None = None, ge_count: int | None = None, iea_count: int | None = None,
                terminator: str = "~\n") -> str:
    """ISA … IEA around one transaction set whose body (after ST, before SE) is `body`."""
    group = "HC" if transaction == "837" else "HP"
    st = f"ST*{transaction}*0001*{version}" if transaction == "837" else f"ST*{transaction}*0001"
    count = len(body) + 2 if se_count is None else se_count
    segments = [ISA, f"GS*{group}*SUBMITTER01*RECEIVER01*20260110*1200*1*X*{version}", st, *body,
                f"SE*{count}*0001", f"GE*{1 if ge_count is None else ge_count}*1",
                f"IEA*{1 if iea_count is None else iea_count}*000000905"]
    return terminator.join(segments) + terminator


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
