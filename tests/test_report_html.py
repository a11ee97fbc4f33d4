"""Tests of report.html: one self-contained page, checked in a real headless Chromium."""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from matplotlib.image import imread

from analysis import write_report

# the fabricated-run helpers live in fabricated_runs.py; load them whatever pytest's import mode
_spec = importlib.util.spec_from_file_location("_analysis_fixtures",
                                               Path(__file__).with_name("fabricated_runs.py"))
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

FIGURES = ("dropout_rates.png", "robustness.png", "convergence.png", "decision_boundaries.png")
# best trials, robustness, AUC, convergence summary
TABLES = (("rank", "trial_id"), ("σ", "bayesft"), ("method", "auc"), ("group", "completed trials"))
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")

# appended to a copy of the report: after load, record what rendered and sort a table by clicks
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => ({name: i.dataset.name, w: i.naturalWidth,
                                               h: i.naturalHeight}));
  const tables = [...document.querySelectorAll("table.sortable")].map(t => ({
    cols: [...t.tHead.rows[0].cells].map(c => c.textContent), rows: t.tBodies[0].rows.length}));
  const best = document.querySelector("table.sortable");
  const head = name => [...best.tHead.rows[0].cells].find(c => c.textContent === name);
  const ids = () => [...best.tBodies[0].rows].map(r => r.cells[1].textContent);
  const clicks = {};
  for (const [name, times] of [["objective_mean", 1], ["objective_mean", 1], ["trial_id", 1]]) {
    for (let i = 0; i < times; i++) head(name).click();
    clicks[name + ":" + head(name).getAttribute("aria-sort")] = ids();
  }
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({imgs, tables, clicks});
  document.body.appendChild(out);
});
</script>
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of the fabricated run (all four figures)."""
    run = _fixtures.fabricate_run(tmp_path_factory.mktemp("html") / "run")
    return write_report(run).with_name("report.html")


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=True)


def test_html_is_self_contained(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    images = re.findall(r'data-name="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [name for name, _ in images] == list(FIGURES)
    for name, data in images:
        assert base64.b64decode(data) == (report.parent / name).read_bytes()
    assert page.count('<table class="sortable">') == len(TABLES)
    assert "<script>" in page and 'th.addEventListener("click"' in page


def test_html_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    dom = _chromium(["--dump-dom", probe.as_uri()], tmp_path / "profile").stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; DOM starts {dom[:300]!r}"
    result = json.loads(html.unescape(found.group(1)))
    assert [i["name"] for i in result["imgs"]] == list(FIGURES)
    assert all(i["w"] > 100 and i["h"] > 100 for i in result["imgs"]), result["imgs"]
    tables = result["tables"]
    assert [tuple(t["cols"][:2]) for t in tables] == list(TABLES)
    assert [t["rows"] for t in tables] == [5, 6, 2, 1]
    assert result["clicks"] == {"objective_mean:ascending": ["t3", "t5", "t1", "t2", "t0"],
                                "objective_mean:descending": ["t0", "t2", "t1", "t5", "t3"],
                                "trial_id:ascending": ["t0", "t1", "t2", "t3", "t5"]}


def test_html_screenshot(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri()],
              tmp_path / "profile")
    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].std() > 0.05  # text and figures, not a blank page
