"""Fetch the Great Expectations Data Docs' web assets from the npm registry, pinned, into the package.

GX renders its Data Docs pages to load Bootstrap, bootstrap-table, jQuery, Popper, Font Awesome,
bootstrap-datepicker and bootstrap-dark from public CDNs. nmr-audit ships those same files, at
the same versions, in `nmr_audit/io/data_docs_assets/` and rewrites the pages to load only them
(`nmr_audit.io.data_docs`), so the docs work where there is no internet and run no third-party
code. Vega, Vega-Lite and vega-embed come from the pinned `vl-convert-python` (PyPI) instead.

Run from the repository root with npm on the PATH, after changing a pin below:

    .venv/bin/python tools/vendor_data_docs.py

Each package is fetched with `npm pack NAME@VERSION`, its tarball checked against the pinned
npm integrity (SHA-512), and the files listed below copied with the package's licence;
`MANIFEST.csv` records package, version, integrity, file and the file's SHA-256 (the tests
check the shipped files against it).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "nmr_audit" / "io" / "data_docs_assets"

# package, version, npm integrity, licence, files (inside the package's tarball, under package/)
PINS = (
    ("bootstrap", "4.3.1", "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
     "MIT", ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js", "LICENSE")),
    ("bootstrap-table", "1.19.1",
     "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==", "MIT",
     ("dist/bootstrap-table.min.css", "dist/bootstrap-table.min.js",
      "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
      "dist/extensions/filter-control/bootstrap-table-filter-control.min.js", "LICENSE")),
    ("jquery", "3.7.1", "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
     "MIT", ("dist/jquery.min.js", "LICENSE.txt")),
    ("popper.js", "1.12.9", "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
     "MIT (stated in the file's header)", ("dist/umd/popper.min.js",)),
    ("@fortawesome/fontawesome-free", "6.6.0",
     "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
     "CC-BY-4.0 (icons), OFL-1.1 (fonts), MIT (code)",
     ("css/all.min.css", "webfonts/fa-brands-400.woff2", "webfonts/fa-regular-400.woff2",
      "webfonts/fa-solid-900.woff2", "webfonts/fa-v4compatibility.woff2", "LICENSE.txt")),
    ("bootstrap-datepicker", "1.9.0",
     "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==", "Apache-2.0",
     ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js", "LICENSE")),
    ("@forevolve/bootstrap-dark", "1.1.0",
     "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==", "MIT",
     ("dist/css/bootstrap-prefers-dark.min.css", "LICENSE")),
)


def folder_of(package: str, version: str) -> str:
    """The package's folder in the assets: `@scope/name` → `scope-name`, then `@version`."""
    return f"{package.lstrip('@').replace('/', '-')}@{version}"


def main() -> None:
    rows = []
    if ASSETS.exists():
        for child in ASSETS.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
    ASSETS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for package, version, integrity, licence, files in PINS:
            name = subprocess.run(["npm", "pack", "--silent", f"{package}@{version}"], cwd=work, check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]
            tarball = Path(work) / name
            digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
            if digest != integrity:
                raise SystemExit(f"{package}@{version}: integrity {digest} is not the pinned {integrity}")
            target = ASSETS / folder_of(package, version)
            with tarfile.open(tarball) as archive:
                for file in files:
                    member = archive.extractfile(f"package/{file}")
                    if member is None:
                        raise SystemExit(f"{package}@{version}: {file} is not in the package")
                    data = member.read()
                    (target / file).parent.mkdir(parents=True, exist_ok=True)
                    (target / file).write_bytes(data)
                    rows.append({"package": package, "version": version, "integrity": integrity, "licence": licence,
                                 "file": f"{folder_of(package, version)}/{file}",
                                 "sha256": hashlib.sha256(data).hexdigest()})
            print(f"{package}@{version}: {len(files)} file(s)")
    with (ASSETS / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
