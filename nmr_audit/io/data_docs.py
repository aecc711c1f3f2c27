"""GX Data Docs that work offline: every web asset shipped with nmr-audit, no page loading a CDN.

Great Expectations renders its Data Docs to load Bootstrap, bootstrap-table, jQuery, Popper,
Font Awesome, bootstrap-datepicker, bootstrap-dark and Vega from public CDNs, and its logo from
a public bucket. Opened where there is no internet (common in hospital networks) the pages show
bare links and empty tables; where there is, every opening runs third-party code on a page about
patients' claims. `make_offline` copies the same files at the same versions — fetched from the
npm registry, pinned and checked by `tools/vendor_data_docs.py` into `data_docs_assets/` — into
the site's `static/vendor/`, adds Vega from the pinned `vl-convert-python` bundle, and rewrites
every page and stylesheet to load only those. Anything external left over is returned, so a GX
upgrade that adds an asset shows in the tests and in the run's log.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

from nmr_audit.resources import package_file

ASSETS = package_file("io/data_docs_assets")  # inside the installed package (importlib.resources)
VENDOR = "static/vendor"
VEGA_FILE = "vega-embed-bundle.js"
LOCAL_LOGO = "static/images/logo-long.png"

# CDN address (pattern) → file in the site, relative to its root.
REWRITES: tuple[tuple[str, str], ...] = (
    (r"https://(?:maxcdn|stackpath)\.bootstrapcdn\.com/bootstrap/4\.3\.1/css/bootstrap\.min\.css",
     f"{VENDOR}/bootstrap@4.3.1/dist/css/bootstrap.min.css"),
    (r"https://(?:maxcdn|stackpath)\.bootstrapcdn\.com/bootstrap/4\.3\.1/js/bootstrap\.min\.js",
     f"{VENDOR}/bootstrap@4.3.1/dist/js/bootstrap.min.js"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/bootstrap-table\.min\.css",
     f"{VENDOR}/bootstrap-table@1.19.1/dist/bootstrap-table.min.css"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/bootstrap-table\.min\.js",
     f"{VENDOR}/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/extensions/filter-control/"
     r"bootstrap-table-filter-control(?:\.min)?\.css",
     f"{VENDOR}/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/extensions/filter-control/"
     r"bootstrap-table-filter-control(?:\.min)?\.js",
     f"{VENDOR}/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    (r"https://code\.jquery\.com/jquery-3\.7\.1\.min\.js", f"{VENDOR}/jquery@3.7.1/dist/jquery.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/1\.12\.9/umd/popper\.min\.js",
     f"{VENDOR}/popper.js@1.12.9/dist/umd/popper.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/6\.6\.0/css/all\.min\.css",
     f"{VENDOR}/fortawesome-fontawesome-free@6.6.0/css/all.min.css"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/css/bootstrap-datepicker\.min\.css",
     f"{VENDOR}/bootstrap-datepicker@1.9.0/dist/css/bootstrap-datepicker.min.css"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/js/bootstrap-datepicker\.min\.js",
     f"{VENDOR}/bootstrap-datepicker@1.9.0/dist/js/bootstrap-datepicker.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/@forevolve/bootstrap-dark@1\.1\.0/dist/css/bootstrap-prefers-dark(?:\.min)?\.css",
     f"{VENDOR}/forevolve-bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.min.css"),
    (r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[a-z_-]+\.png(?:\?[^\"')\s]*)?",
     LOCAL_LOGO),
)
# Vega, Vega-Lite and vega-embed: three CDN scripts become the one local bundle (it defines all three).
VEGA_SCRIPTS = re.compile(r'<script[^>]*src="https://cdn\.jsdelivr\.net/npm/vega(?:-lite|-embed)?@[^"]*"[^>]*>'
                          r"\s*</script>\s*")
NEWSLETTER = re.compile(r"<footer>\s*<p>Stay current on everything GX.*?</footer>", re.DOTALL)
# What a page loads: script and image sources, stylesheet and icon links, CSS url(), @import.
LOADS = re.compile(r"""(?:<script[^>]*\bsrc\s*=\s*["']?|<img[^>]*\bsrc\s*=\s*["']?|<link[^>]*\bhref\s*=\s*["']?"""
                   r"""|url\(\s*["']?|@import\s+["']?)((?:https?:)?//[^"')\s>]+)""", re.IGNORECASE)


def make_offline(site: Path) -> list[str]:
    """Copy the shipped assets into the Data Docs site at `site` (its root, holding index.html)
    and rewrite its pages and stylesheets to load them instead of the CDNs. Returns each
    external address still loaded, as 'page: address' (none when the rewrite is complete)."""
    vendor = site / VENDOR
    shutil.copytree(ASSETS, vendor, dirs_exist_ok=True, ignore=shutil.ignore_patterns("MANIFEST.csv"))
    (vendor / VEGA_FILE).write_text(_vega_bundle(), encoding="utf-8")
    left = []
    for page in sorted([*site.rglob("*.html"), *(site / "static").rglob("*.css")]):
        if vendor in page.parents:
            continue
        text = page.read_text(encoding="utf-8")
        rewritten = rewrite(text, os.path.relpath(site, page.parent).replace(os.sep, "/"))
        if rewritten != text:
            page.write_text(rewritten, encoding="utf-8")
        left += [f"{page.relative_to(site)}: {address}" for address in external_loads(rewritten)]
    return left


def rewrite(text: str, root: str) -> str:
    """`text` (a page or stylesheet) with each CDN address replaced by the shipped file's path
    relative to the page (`root`: the site's root relative to the page, e.g. `../..`)."""
    prefix = "" if root in ("", ".") else root.rstrip("/") + "/"
    for pattern, local in REWRITES:
        text = re.sub(pattern, prefix + local, text)
    if VEGA_SCRIPTS.search(text):
        first = True

        def one_bundle(_: re.Match[str]) -> str:
            nonlocal first
            if not first:
                return ""
            first = False
            return f'<script src="{prefix}{VENDOR}/{VEGA_FILE}"></script>\n'

        text = VEGA_SCRIPTS.sub(one_bundle, text)
    return NEWSLETTER.sub("", text)


def external_loads(text: str) -> list[str]:
    """The addresses outside the machine that `text` would load (links to follow are not loads)."""
    return sorted(set(LOADS.findall(text)))


def manifest() -> list[dict[str, str]]:
    """The shipped assets: package, version, integrity, licence, file, sha256."""
    with (ASSETS / "MANIFEST.csv").open(encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def _vega_bundle() -> str:
    from nmr_audit.io.report_html import vega_bundle

    return vega_bundle()
