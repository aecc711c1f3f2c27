"""Read CMS's quarterly edit and fee files as CMS publishes them (text, CSV, or the zip itself).

Layouts (CMS, "Medicare NCCI Procedure to Procedure (PTP) Edits", "Medically Unlikely Edits",
"PFS Relative Value Files"; confirmed against public loaders of the same files):

- practitioner PTP (`ccipra-vNNNrN-fK.txt`, four parts a quarter): tab-delimited, a copyright
  preamble, a header row starting `Column 1<TAB>Column 2`, continuation rows of the header, then
  column 1, column 2, `*` when in existence prior to 1996, effective date `YYYYMMDD`, deletion
  date `YYYYMMDD` or `*`, modifier indicator 0/1/9, rationale;
- practitioner MUE (`MCR_MUE_PractitionerServices_*.csv`): a preamble, the header `HCPCS/CPT
  Code, Practitioner Services MUE Values, MUE Adjudication Indicator, MUE Rationale`, the
  indicator cell holding its digit and words (`2 Date of Service Edit: Policy`);
- PFS RVU (`PPRRVUyy_*.csv` in `RVUyyX.zip`): a preamble, a header row starting `HCPCS`, rows of
  HCPCS, MOD, DESCRIPTION, STATUS CODE, …, WORK RVU, NON-FAC PE RVU, …, FACILITY PE RVU, …, MP RVU,
  … CONV FACTOR (found by name, else by CMS's positions 5, 6, 8, 10, 25);
- GPCI (`GPCIyyyy.csv` in the same zip): a preamble, a header naming the MAC, state, locality
  number and name, and the PW (work), PE and MP GPCIs.

Each reader returns text frames of the rows (no typing beyond trimming) and raises `InputError`
naming the file when its header cannot be found.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import zipfile
from pathlib import Path

import pandas as pd

from nmr_audit.errors import InputError

PTP_COLUMNS = ("column_1", "column_2", "prior_to_1996", "effective_date", "deletion_date", "modifier_indicator",
               "rationale")
MUE_COLUMNS = ("cpt_code", "mue", "adjudication", "rationale")
RVU_COLUMNS = ("cpt_code", "modifier", "description", "status", "work_rvu", "pe_rvu_nonfacility", "pe_rvu_facility",
               "mp_rvu", "conversion_factor")
GPCI_COLUMNS = ("mac", "state", "locality", "locality_name", "work_gpci", "pe_gpci", "mp_gpci")
_RVU_NAMES = {"cpt_code": ("HCPCS",), "modifier": ("MOD",), "description": ("DESCRIPTION",),
              "status": ("STATUS CODE", "STATUS"), "work_rvu": ("WORK RVU",),
              "pe_rvu_nonfacility": ("NON-FAC PE RVU", "NON-FACILITY PE RVU"),
              "pe_rvu_facility": ("FACILITY PE RVU",), "mp_rvu": ("MP RVU",),
              "conversion_factor": ("CONV FACTOR", "CONVERSION FACTOR")}
_RVU_POSITIONS = {"cpt_code": 0, "modifier": 1, "description": 2, "status": 3, "work_rvu": 5,
                  "pe_rvu_nonfacility": 6, "pe_rvu_facility": 8, "mp_rvu": 10, "conversion_factor": 25}


def members(path: Path, pattern: str) -> list[tuple[str, str]]:
    """(name, text) of the file, or of the zip's members whose name matches `pattern`
    (case-insensitive glob), in name order."""
    if not path.is_file():
        raise InputError(path, "file not found", "give the file or the zip as downloaded from CMS")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if fnmatch.fnmatch(Path(n).name.lower(), pattern.lower()))
            if not names:
                raise InputError(path, f"the zip holds no file like {pattern}", "give the file itself")
            return [(n, _decode(archive.read(n))) for n in names]
    return [(path.name, _decode(path.read_bytes()))]


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # CMS's older files: the ® of the AMA notice in Latin-1


def _rows(text: str, delimiter: str) -> list[list[str]]:
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def read_ptp(path: Path) -> pd.DataFrame:
    """The PTP edits of one file (or of every `*.txt` part in a zip), `PTP_COLUMNS` as text,
    with `source_file` (the part's name) and `source_row` (its line)."""
    frames = []
    for name, text in members(path, "*.txt"):
        rows = _rows(text, "\t")
        header = next((i for i, r in enumerate(rows[:40]) if len(r) > 1 and r[0].lower().startswith("column 1")
                       and r[1].lower().startswith("column 2")), None)
        if header is None:
            raise InputError(f"{path}:{name}", "no 'Column 1<TAB>Column 2' header row in the first 40 lines",
                             "give CMS's practitioner PTP text file (ccipra-…-fN.txt)")
        data = [(number, r) for number, r in enumerate(rows[header + 1:], start=header + 2)
                if r and r[0]]  # the header's continuation rows start with an empty cell
        frames.append(pd.DataFrame({
            **{c: [r[i] if i < len(r) else "" for _, r in data] for i, c in enumerate(PTP_COLUMNS)},
            "source_file": name, "source_row": [n for n, _ in data]}))
    return pd.concat(frames, ignore_index=True)


def read_mue(path: Path) -> pd.DataFrame:
    """The practitioner MUEs of one CSV (or the zip's `*.csv`), `MUE_COLUMNS` as text."""
    frames = []
    for name, text in members(path, "*.csv"):
        rows = _rows(text, ",")
        header = next((i for i, r in enumerate(rows[:40]) if r and r[0].upper().startswith("HCPCS")
                       and any("MUE" in c.upper() for c in r[1:])), None)
        if header is None:
            raise InputError(f"{path}:{name}", "no 'HCPCS/CPT Code, … MUE Values' header row in the first 40 lines",
                             "give CMS's practitioner services MUE table (CSV)")
        data = [(n, r) for n, r in enumerate(rows[header + 1:], start=header + 2) if r and r[0]]
        frames.append(pd.DataFrame({c: [r[i] if i < len(r) else "" for _, r in data] for i, c in enumerate(MUE_COLUMNS)}
                                   ).assign(source_file=name, source_row=[n for n, _ in data]))
    return pd.concat(frames, ignore_index=True)


def read_rvu(path: Path) -> pd.DataFrame:
    """The PFS relative value units (the zip's `PPRRVU*.csv`, or the CSV), `RVU_COLUMNS` as text."""
    name, text = members(path, "pprrvu*.csv")[0]
    rows = _rows(text, ",")
    header = next((i for i, r in enumerate(rows[:40]) if r and r[0].upper() == "HCPCS"), None)
    if header is None:
        raise InputError(f"{path}:{name}", "no header row starting with HCPCS in the first 40 lines",
                         "give CMS's PPRRVU file (CSV) or the RVU zip")
    names = [c.upper().replace("\n", " ") for c in rows[header]]
    position = {}
    for column, spellings in _RVU_NAMES.items():
        found = [i for i, n in enumerate(names) if n in spellings]
        position[column] = found[0] if found else _RVU_POSITIONS[column]
    data = [(n, r) for n, r in enumerate(rows[header + 1:], start=header + 2) if r and len(r[0]) == 5]
    return pd.DataFrame({c: [r[i] if i < len(r) else "" for _, r in data] for c, i in position.items()}).assign(
        source_file=name, source_row=[n for n, _ in data])


def read_gpci(path: Path) -> pd.DataFrame:
    """The GPCIs by locality (the zip's `GPCI*.csv`, or the CSV), `GPCI_COLUMNS` as text."""
    name, text = members(path, "gpci*.csv")[0]
    rows = _rows(text, ",")
    header = next((i for i, r in enumerate(rows[:40]) if len(r) >= 5 and any("locality" in c.lower() for c in r)
                   and any("gpci" in c.lower() for c in r)), None)
    if header is None:
        raise InputError(f"{path}:{name}", "no header row naming the locality and the GPCIs in the first 40 lines",
                         "give CMS's GPCI file (CSV) or the RVU zip")
    names = [c.lower() for c in rows[header]]

    def find(*words: str) -> int:
        for i, n in enumerate(names):
            if all(w in n for w in words):
                return i
        raise InputError(f"{path}:{name}", f"the GPCI header has no column with {' '.join(words)!r}")

    position = {"mac": find("contractor") if any("contractor" in n for n in names) else find("mac"),
                "state": find("state"), "locality": find("locality", "number"), "locality_name": find("locality", "name"),
                "work_gpci": find("pw", "gpci") if any("pw" in n for n in names) else find("work", "gpci"),
                "pe_gpci": find("pe", "gpci"), "mp_gpci": find("mp", "gpci")}
    data = [(n, r) for n, r in enumerate(rows[header + 1:], start=header + 2) if r and any(r)]
    return pd.DataFrame({c: [r[i] if i < len(r) else "" for _, r in data] for c, i in position.items()}).assign(
        source_file=name, source_row=[n for n, _ in data])
