"""The HTML report as a person sees it: built by `snakemake --report` from a small finished
run of the real workflow, opened in headless Chromium, every table and figure shown.

The run keeps the demo config but compares no models and runs no sweep, so each table is
the published values beside cells marked "not run" and nothing upstream has to run.
Needs Debian's ``chromium`` package (CI: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ci_expect import skip_or_fail

from .conftest import snakemake

pytestmark = pytest.mark.workflow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = Path(__file__).with_name("report_driver.js")
TABLES = (
    "h0mini_table1_hest", "h0mini_table2_eva", "h0mini_distilled_vs_scratch", "kaiko_table1_linear_probe",
    "kaiko_table8_linear_probe_std", "kaiko_table2_magnification", "kaiko_table3_wsi_fraction",
    "kaiko_table4_distinct_patches", "kaiko_fig1_init", "kaiko_fig4_dino_vs_dinov2",
    "kaiko_fig6_unsupervised", "gpfm_fig8_expert_distillation",
)
FIGURES = ("kaiko_fig1_init", "kaiko_fig4_dino_vs_dinov2", "kaiko_fig6_unsupervised",
           "gpfm_fig8_expert_distillation")


def _rendered(report: Path, tmp: Path) -> dict:
    """Load the report with the driver appended; return what the driver recorded."""
    page = tmp / "report_checked.html"
    head, body_end, tail = report.read_text().rpartition("</body>")
    page.write_text(f"{head}<script>{DRIVER.read_text()}</script>{body_end}{tail}")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=30000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180, check=True).stdout
    found = re.search(r'<pre id="pathfm-check">(\{.*?)</pre>', dom, flags=re.S)
    assert found, "the driver did not finish: the report's scripts did not run"
    text = found[1].replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(text.replace("&amp;", "&"))


def test_report_shows_every_table_and_figure(workdir, tmp_path):
    if CHROMIUM is None:
        skip_or_fail("chromium", "chromium not installed (Debian package 'chromium')")
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["tables"]["models"] = []
    config["sweeps"]["axes"] = {}
    (workdir / "config" / "small.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/report/tables/{t}.html" for t in TABLES] + list(TABLES) + [
        "results/provenance/provenance.html"]
    args = ("--configfile", "config/small.yaml", "--")
    run = snakemake("--cores", "2", *args, *targets, cwd=workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    report = workdir / "results" / "report.html"
    built = snakemake(f"--report={report}", *args, *targets, cwd=workdir)
    assert built.returncode == 0, built.stderr[-3000:]

    seen = _rendered(report, tmp_path)
    shown = {Path(r["path"]).name: r for r in seen["results"]}
    for target in TABLES:
        table = shown[f"{target}.html"]
        assert table["shown"] and table["rows"] > 0, table
        assert "model" in table["headers"] or "metric" in table["headers"], table
    published = shown["kaiko_table1_linear_probe.html"]
    assert "BACH (paper)" in published["headers"] and published["rows"] == 11
    for figure in FIGURES:
        image = shown[f"{figure}.png"]
        assert image["shown"] and image["width"] > 100 and image["height"] > 100, image
    provenance = shown["provenance.html"]
    assert provenance["shown"] and "snakemake==" in provenance["text"]
    assert "Resolved config" in provenance["text"] and "cohorts:" in provenance["text"]
    for category in ("h0mini", "kaiko", "gpfm", "provenance"):
        assert category in seen["categories"]
