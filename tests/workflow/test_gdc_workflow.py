"""The GDC path through Snakemake against a loopback GDC: query → download → mask → tiles.

A download job killed mid-file (SIGKILL, as an OOM killer or a node failure would)
is retried by Snakemake and resumes from the partial file: the retry's request
carries a Range header starting at the partial's size.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections import Counter

import pytest
import yaml

from ..conftest import geometry_slide
from ..sources.fake_gdc import FakeGDC
from .conftest import BIN, REPO, local_env, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def _hit(i: int, content: bytes) -> dict:
    patient = f"TCGA-AA-{i:04d}"
    return {"file_name": f"{patient}-01Z-00-DX1.F{i:03d}.svs", "md5sum": hashlib.md5(content).hexdigest(),
            "file_size": len(content), "data_format": "SVS", "data_type": "Slide Image",
            "access": "open", "experimental_strategy": "Diagnostic Slide",
            "cases": [{"submitter_id": patient, "project": {"project_id": "TCGA-BRCA"},
                       "samples": [{"submitter_id": f"{patient}-01A"}]}]}


def _slide_targets(contents) -> list[str]:
    return [f"results/slides/tcga_test/TCGA-AA-{i:04d}-01Z-00-DX1.F{i:03d}.svs"
            for i in range(len(contents))]


def _config(workdir, api: str) -> None:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    # The demo cohort stays (later stages of the demo config name it) but shrinks to
    # one small slide; the GDC cohort is the one under test.
    cfg["cohorts"]["demo"].update(n_slides=1, synth={"width_um": 600, "height_um": 400})
    cfg["cohorts"]["tcga_test"] = {"source": "gdc", "projects": ["TCGA-BRCA"],
                                   "strategies": ["Diagnostic Slide"],
                                   "tilings": ["mpp0.50_px224"]}
    cfg["gdc_api"] = api
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))


def test_gdc_cohort_end_to_end_with_a_killed_download(workdir, tmp_path):
    contents = [geometry_slide(tmp_path / f"src{i}.svs", mpp).read_bytes()
                for i, mpp in enumerate((0.25, 0.24))]
    with FakeGDC(lifetime=300) as fake:
        for i, content in enumerate(contents):
            fake.add_file(f"fid-{i}", content, _hit(i, content))
        _config(workdir, fake.url)

        # Slow transfers until a partial file exists; then the job is killed.
        fake.chunk_delay = 0.3
        env = local_env()
        proc = subprocess.Popen(
            [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "1",
             *_slide_targets(contents)], cwd=workdir, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        slides = workdir / "results" / "slides" / "tcga_test"
        deadline = time.monotonic() + 120
        partials = []
        while time.monotonic() < deadline:
            partials = [p for p in slides.glob("*.part") if p.stat().st_size > 0] if slides.exists() else []
            if partials:
                break
            time.sleep(0.1)
        if not partials:
            proc.kill()
            pytest.fail(f"no partial download appeared:\n{proc.communicate()[0][-4000:]}")
        n_before = len(fake.requests)
        fake.chunk_delay = 0.0
        partial_size = partials[0].stat().st_size
        killed = subprocess.run(["pkill", "-KILL", "-f", "pathfm download-slide"])
        assert killed.returncode == 0, "no download job to kill"
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-4000:]
        assert partial_size > 0

        result = snakemake("--cores", "2", "results/qc/tcga_test/summary.png", cwd=workdir,
                           timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]

    ranged = [r for r in fake.requests[n_before:] if r["path"].startswith("/data/")
              and r["headers"].get("Range")]
    assert ranged, "the rerun did not resume from the partial file"
    assert int(ranged[0]["headers"]["Range"].split("=")[1].split("-")[0]) >= partial_size
    for i, content in enumerate(contents):
        slide = slides / f"TCGA-AA-{i:04d}-01Z-00-DX1.F{i:03d}.svs"
        assert hashlib.md5(slide.read_bytes()).hexdigest() == hashlib.md5(content).hexdigest()
    assert not list(slides.glob("*.part"))
    assert len(list((workdir / "results" / "tiles" / "tcga_test" / "mpp0.50_px224").glob("*.zarr"))) == 2


def test_sharded_gdc_cohort_runs_slides_in_runs_of_slides_per_job(workdir, tmp_path):
    contents = [geometry_slide(tmp_path / f"src{i}.svs", mpp).read_bytes()
                for i, mpp in enumerate((0.25, 0.24, 0.25))]
    with FakeGDC(lifetime=300) as fake:
        for i, content in enumerate(contents):
            fake.add_file(f"fid-{i}", content, _hit(i, content))
        _config(workdir, fake.url)
        cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
        cfg["cohorts"]["tcga_test"]["slides_per_job"] = 2
        (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
        result = snakemake("--cores", "2", "results/qc/tcga_test/summary.png", cwd=workdir,
                           timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]
    jobs = Counter(re.findall(r"^(?:local)?rule (\w+):$", result.stderr + result.stdout, flags=re.M))
    assert jobs["download_slide_shard"] == jobs["mask_shard"] == jobs["tiles_shard"] == 2, jobs
    assert not {"download_slide", "mask", "tiles"} & set(jobs)
    for i, content in enumerate(contents):
        slide = workdir / "results" / "slides" / "tcga_test" / f"TCGA-AA-{i:04d}-01Z-00-DX1.F{i:03d}.svs"
        assert hashlib.md5(slide.read_bytes()).hexdigest() == hashlib.md5(content).hexdigest()
    stores = sorted((workdir / "results" / "tiles" / "tcga_test" / "mpp0.50_px224").glob("*.zarr"))
    assert len(stores) == 3
    marker = json.loads((workdir / "results" / "tiles" / "tcga_test" / "mpp0.50_px224" / "shards"
                         / "00001.shard.json").read_text())
    assert [r["outputs"] for r in marker["slides"]] == [[str(stores[2].relative_to(workdir))]]
    qc = (workdir / "results" / "qc" / "tcga_test" / "summary.tsv").read_text()
    assert all(f"TCGA-AA-{i:04d}" in qc for i in range(3))
