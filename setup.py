"""The build step that carries the files kept at the repository's root into the wheel.

Everything else about the package is declared in pyproject.toml. The reference tables
(`data/reference/`), mapping profiles (`data/mappings/`), rule suites (`expectations/`) and
`prefect.yaml` stay where their owners keep them; `build_py` copies them into the built package
as `nmr_audit/_bundled/<name>` (the list is `SHIPPED` in `nmr_audit/resources.py`, which reads
them back through `importlib.resources`). An editable install skips the copy: it reads the
checkout's own files. `MANIFEST.in` puts the same files in the sdist, so a wheel built from the
sdist (`python -m build`) carries them too.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED: dict[str, str] = runpy.run_path(str(HERE / "nmr_audit" / "resources.py"))["SHIPPED"]
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildWithShippedFiles(build_py):
    """`build_py`, then the shipped files copied into `<build_lib>/nmr_audit/_bundled/`."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout (nmr_audit/resources.py)
        target = Path(self.build_lib) / "nmr_audit" / "_bundled"
        shutil.rmtree(target, ignore_errors=True)  # nothing left over from an earlier build
        for name, kept in SHIPPED.items():
            source = HERE / kept
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=SKIPPED)
            elif source.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
            else:
                raise FileNotFoundError(f"{source}: shipped with nmr-audit but missing from the source tree")


setup(cmdclass={"build_py": BuildWithShippedFiles})
