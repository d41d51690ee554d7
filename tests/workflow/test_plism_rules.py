"""PLISM rules: dry-runs of the demo and paper targets, and a tiny real run to matched tiles."""

from __future__ import annotations

import json

import pytest
import yaml

from pathfm.wsi.tile_store import open_tile_store

from tests.dry_run import dag_jobs, has_args, shell_commands

from .conftest import snakemake

pytestmark = pytest.mark.workflow
TARGETS = ("h0mini_table3_plism", "h0mini_fig1_robustness", "h0mini_fig4_scanner_vs_staining")


def test_demo_targets_dry_run(workdir):
    result = snakemake("--d3dag", "--cores", "1", *TARGETS, cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    assert counts["synth_plism"] == 1
    assert counts["plism_register"] == 21  # one job per slide, the reference's an identity
    assert counts["plism_tiles"] == 1
    assert counts["plism_report"] == 1
    assert counts["embed_plism"] == counts["plism_bench"]  # one job per (model, set)
    # The reference (GMH_S60) registers as an identity, another slide does not.
    slides = ("GMH_S60", "GVH_S60")
    result = snakemake("-n", "-p", "--cores", "1",
                       *(f"results/plism/demo_plism/transforms/{s}.json" for s in slides), cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    register = {}
    for cmd in shell_commands(result.stdout)["plism_register"]:
        slide = [s for s in slides if has_args(cmd, "--slide-id", s)]
        assert len(slide) == 1, cmd
        register[slide[0]] = cmd
    assert sorted(register) == sorted(slides)
    assert has_args(register["GMH_S60"], "--identity")
    assert not has_args(register["GVH_S60"], "--identity")


def test_paper_targets_dry_run_start_from_hub_tiles(workdir):
    result = snakemake("--d3dag", "--cores", "1", "--configfile", "config/paper.yaml", "--", *TARGETS,
                       cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    assert counts["plism_fetch_hub"] == 21
    assert counts["plism_hub_tiles"] == 1
    assert "plism_register" not in counts
    models = yaml.safe_load((workdir / "config/paper.yaml").read_text())["plism"]["models"]
    assert counts["plism_bench"] == len(models)
    assert counts["embed_plism"] == len(models)


def test_paper_raw_source_registers_every_slide(workdir):
    cfg = yaml.safe_load((workdir / "config/paper.yaml").read_text())
    spec = cfg["plism"]["sets"]["plism_h0mini"]
    spec.update(source="raw", raw_dir="plism_wsi")
    (workdir / "plism_wsi").mkdir()
    for st in spec["stainings"]:
        for sc in spec["scanners"]:
            (workdir / "plism_wsi" / f"{st}_{sc}.tif").write_bytes(b"placeholder")
    (workdir / "config/paper_raw.yaml").write_text(yaml.safe_dump(cfg))
    result = snakemake("--d3dag", "--cores", "1", "--configfile", "config/paper_raw.yaml", "--",
                       "results/plism/plism_h0mini/tiles", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    assert counts["plism_register"] == 21 and counts["plism_tiles"] == 1


def test_tiny_set_renders_registers_and_tiles(workdir):
    cfg = yaml.safe_load((workdir / "config/config.yaml").read_text())
    cfg["plism"]["sets"] = {"tiny": {
        "source": "synthetic", "stainings": ["GMH", "GVH"], "scanners": ["S60", "AT2"],
        "reference": "GMH_S60", "seed": 3,
        "synth": {"rows": 1, "cols": 2, "punch_radius_um": 110.0, "pitch_um": 260.0,
                  "margin_um": 40.0}}}
    cfg["plism"]["report_set"] = "tiny"
    cfg["plism"]["tiling"].update(tile_px=48)
    cfg["plism"]["registration"]["params"].update(bspline_shrink=[1], bspline_smooth=[0.0],
                                                  bspline_iterations=30)
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    result = snakemake("--cores", "2", "results/plism/tiny/tiles", cwd=workdir, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    slides = ["GMH_S60", "GMH_AT2", "GVH_S60", "GVH_AT2"]
    for slide_id in slides:
        info = json.loads((workdir / f"results/plism/tiny/transforms/{slide_id}.json").read_text())
        print(slide_id, info["tre"])
        assert info["tre"]["median_px"] <= 2.0 and info["tre"]["p95_px"] <= 5.0
        assert (workdir / f"logs/plism_register/tiny/{slide_id}.log").exists()
    ids = [open_tile_store(workdir / f"results/plism/tiny/tiles/{s}.zarr")["tile_id"][:]
           for s in slides]
    assert len(ids[0]) >= 10 and all((i == ids[0]).all() for i in ids)
