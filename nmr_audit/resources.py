"""The files nmr-audit ships with its code: reference tables, rule suites, mapping profiles and
the nightly deployment's `prefect.yaml`.

They live at the repository's root, where their owners keep and review them (`data/reference/`,
`data/mappings/`, `expectations/`, `prefect.yaml`). A wheel carries them inside the package, as
`nmr_audit/_bundled/<name>` (the build step in `setup.py` copies `SHIPPED` in), so an installed
nmr-audit reads them through `importlib.resources` wherever pip put it. An editable checkout
(`pip install -e .`, what `tasks.py` makes) has no `_bundled/`: there they are read from the
checkout itself, so an edit to a table or a suite takes effect without a rebuild.

The package's own data (the report template, the Data Docs assets) sits beside its code and is
read through `importlib.resources` too (`package_file`).

What a run reads is layered on top: `--reference DIR` over the reference home
(`io.reference_home`, tables imported from CMS's files) over the shipped tables, and
`--expectations DIR` instead of the shipped suites.
"""

from __future__ import annotations

import atexit
import contextlib
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path

PACKAGE = "nmr_audit"
BUNDLED = "_bundled"
# name inside the package's _bundled/ → where it is kept in the repository (setup.py reads this)
SHIPPED = {
    "reference": "data/reference",
    "mappings": "data/mappings",
    "expectations": "expectations",
    "prefect.yaml": "prefect.yaml",
}
MAPPING_SUFFIXES = (".yaml", ".yml")
_extracted = contextlib.ExitStack()  # files of a zipped install, extracted once per process
atexit.register(_extracted.close)


def shipped(name: str) -> Path:
    """The folder or file `name` (a key of `SHIPPED`): the installed package's copy when it has
    one, else the checkout's (an editable install or the source tree). Where neither exists the
    packaged path is returned, so that a loader's "not found" names where it looked."""
    if name not in SHIPPED:
        raise KeyError(f"{name!r} is not shipped with nmr-audit (known: {', '.join(SHIPPED)})")
    packaged = package_file(f"{BUNDLED}/{name}")
    if packaged.exists():
        return packaged
    checkout = checkout_root() / SHIPPED[name]
    return checkout if checkout.exists() else packaged


def package_file(relative: str) -> Path:
    """A file or folder of the installed package (`relative` to `nmr_audit/`, '/'-separated) as a
    filesystem path, through `importlib.resources` (a zipped install is extracted once)."""
    resource = files(PACKAGE).joinpath(*relative.split("/"))
    if isinstance(resource, Path):  # an unpacked install (what pip makes) or a checkout
        return resource
    return _extract(relative)


def checkout_root() -> Path:
    """The folder above the package: the repository root when nmr-audit runs from a checkout."""
    return Path(str(files(PACKAGE))).resolve().parent


def mapping_profile(path: Path) -> Path:
    """`path` as given when it exists or names a folder; else, for a bare name (`therachart_csv`,
    `rehabpro_xlsx.yaml`), the shipped mapping profile of that name when there is one."""
    if path.exists() or len(path.parts) != 1:
        return path
    folder = shipped("mappings")
    for candidate in (path.name, *(path.name + suffix for suffix in MAPPING_SUFFIXES)):
        if Path(candidate).suffix in MAPPING_SUFFIXES and (folder / candidate).is_file():
            return folder / candidate
    return path


def shipped_mappings() -> list[str]:
    """The names of the shipped mapping profiles (for help and messages)."""
    folder = shipped("mappings")
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


@cache
def _extract(relative: str) -> Path:
    """A resource of a zipped install as a file (a folder needs Python 3.12's `as_file`)."""
    return _extracted.enter_context(as_file(files(PACKAGE).joinpath(*relative.split("/"))))
