"""Headless Chromium for tests that look at a page as a person would (Debian's `chromium`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed: `python3.11 tasks.py test` installs Debian's "
    "chromium where apt-get can (or: apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def render(page: Path, budget_ms: int = 10_000) -> tuple[str, list[str]]:
    """The page's DOM after its scripts ran, and every console message it printed."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
                               "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]
    return done.stdout, console


PROBE = """
<script>
(function () {
  function finish(result) {
    var out = document.createElement("script");
    out.type = "application/json"; out.id = "probe-result";
    out.textContent = JSON.stringify(result).replace(/</g, "\\\\u003c");
    document.body.appendChild(out);
  }
  var waited = 0;
  var timer = setInterval(function () {
    waited += 100;
    var ready = !%(wait_charts)s || document.body.getAttribute("data-charts-rendered") === "true";
    if (!ready && waited < %(budget)d) { return; }
    clearInterval(timer);
    try { finish((function () { %(body)s })()); } catch (e) { finish({ error: String(e) }); }
  }, 100);
})();
</script>
"""


def probe(page: Path, body: str, width: int = 1280, height: int = 1000, wait_charts: bool = True,
          budget_ms: int = 20_000) -> dict:
    """Open a copy of `page` at `width`×`height` CSS pixels with the JavaScript function body
    `body` run once its charts are drawn; returns what `body` returned (JSON)."""
    import json

    html = page.read_text(encoding="utf-8")
    script = PROBE % {"body": body, "budget": budget_ms - 2000, "wait_charts": "true" if wait_charts else "false"}
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / page.name
        head, _, tail = html.rpartition("</body>")
        copy.write_text(head + script + "</body>" + tail, encoding="utf-8")
        with tempfile.TemporaryDirectory() as profile:
            done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                   "--hide-scrollbars", f"--virtual-time-budget={budget_ms}", "--dump-dom",
                                   copy.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<script type="application/json" id="probe-result">(.*?)</script>', done.stdout, re.DOTALL)
    assert found, f"the probe left no result: {done.stderr[-2000:]}"
    result = json.loads(found.group(1))
    assert "error" not in result, result
    return result


# The browser's own background services (updates, accounts, time), not the page: present in a
# net log whatever the page does.
BROWSER_SERVICES = re.compile(r"^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)(:|/|$)")


def render_offline(page: Path, budget_ms: int = 8_000) -> tuple[str, list[str]]:
    """The page's DOM with the network blocked (no name resolves, every connection goes to a
    closed local port), and every http(s) address the page asked for, from Chromium's net log."""
    import json

    with tempfile.TemporaryDirectory() as profile:
        netlog = Path(profile) / "netlog.json"
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
                               "--proxy-server=127.0.0.1:9", f"--log-net-log={netlog}",
                               f"--virtual-time-budget={budget_ms}", "--dump-dom", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
        log = json.loads(netlog.read_text(encoding="utf-8"))
    asked = {event["params"]["url"] for event in log["events"]
             if str(event.get("params", {}).get("url", "")).startswith(("http://", "https://"))}
    return done.stdout, sorted(url for url in asked if not BROWSER_SERVICES.match(url))
