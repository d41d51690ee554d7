"""The sbatch lines Snakemake's Slurm plugin builds, through the real profiles.

First for a probe workflow (sbatch_probe.smk), then for the workflow's own
training, distillation and embedding rules with GPU requests (sbatch_rules.yaml),
whose shell commands must launch through `pathfm launch` with the same geometry.

A fake ``sbatch`` first on PATH records its arguments and refuses the job (the
other fakes answer as a one-partition cluster), so this runs without Slurm and
shows exactly what a site's sbatch would receive. It needs no cluster: not marked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..workflow.conftest import local_env
from .conftest import BIN, REPO

pytestmark = pytest.mark.workflow

HERE = Path(__file__).parent


def _submissions(record: Path) -> dict[str, list[str]]:
    calls = [c.splitlines() for c in record.read_text().split("\n\n") if c.strip()]
    return {c[c.index("--comment") + 1]: c for c in calls}


@pytest.fixture(scope="module")
def sbatch_calls(tmp_path_factory):
    """One Snakemake run per target: the first refused submission stops a run, so two
    rules in one run would record one or two calls depending on scheduling order."""
    calls = {}
    for target in ("gpu.done", "multinode.done"):
        work = tmp_path_factory.mktemp("sbatch")
        record = work / "sbatch.txt"
        env = {**os.environ, "FAKE_SBATCH_LOG": str(record),
               "PATH": f"{HERE / 'fake_slurm'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}
        res = subprocess.run(
            ["timeout", "-k", "10", "240", str(BIN / "snakemake"),
             "--snakefile", str(HERE / "sbatch_probe.smk"),
             "--profile", str(REPO / "profiles" / "slurm"),
             "--workflow-profile", str(REPO / "profiles" / "default"), "--retries", "0",
             "--slurm-init-seconds-before-status-checks", "1", target],
            cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 1 and "fake sbatch" in res.stdout + res.stderr, res.stderr
        calls.update(_submissions(record))
    return calls


def test_gpu_rule_asks_for_its_gpus(sbatch_calls):
    call = sbatch_calls["rule_one_node_two_gpus"]
    assert "--gpus=2" in call and "--nodes=1" in call
    assert call[call.index("-t") + 1] == "120" and call[call.index("--mem") + 1] == "64000"
    assert "--ntasks-per-gpu" not in " ".join(call)  # plugin >= 2.7.1: no implicit task geometry
    wrapped = call[-1]
    assert wrapped.startswith("--wrap=") and "--executor slurm-jobstep" in wrapped


def test_multi_node_rule_asks_per_node(sbatch_calls):
    call = sbatch_calls["rule_two_nodes_four_gpus_each"]
    assert "--nodes=2" in call and "--gres=gpu:4" in call and "--cpus-per-gpu=8" in call
    assert call[call.index("-t") + 1] == "4320"


def test_workflow_profile_defaults_reach_every_job(sbatch_calls):
    # profiles/default's default-resources win over any global profile's: nodes=1 etc.
    for call in sbatch_calls.values():
        assert "--export=ALL" in call and "-D" in call
        assert "base64//bm9kZXM9MQ==" in call[-1]  # "nodes=1" forwarded to the job


# Everything upstream of the three GPU rules, as empty files and folders, so that each
# target's own job is the only one to submit (Snakemake reads none of them).
UPSTREAM = [
    "results/manifests/demo.tsv", "results/slides/demo/demo_000.svs",
    "results/synth/demo/demo_000/", "results/masks/demo/demo_000/mask.png",
    "results/masks/demo/demo_000/tissue.geojson", "results/masks/demo/demo_000/qc.png",
    "results/masks/demo/demo_000/mask.json", "results/tiles/demo/mpp0.50_px224/demo_000.zarr/",
    "results/datasets/pcam/",
    # demo-h-optimus: the distillation's teacher, and the model embedded.
    *(f"results/models/demo-h-optimus/{f}"
      for f in ("weights.safetensors", "card.yaml", "heads.safetensors")),
]
GPU_RULES = {"train_ssl": "results/models/demo-vit-s8/weights.safetensors",
             "distill": "results/models/demo-h0-mini/weights.safetensors",
             "embed": "results/embeddings/demo-h-optimus/pcam.zarr"}
# demo-vit-s8 asks for 2 GPUs in sbatch_rules.yaml; here also for 2 nodes: one GPU each.
# A --set-resources on the command line replaces the profile's whole set-resources
# (measured: train_ssl lost its cpus_per_gpu), so the profile's entry is repeated.
MULTI_NODE = ["--set-resources", "train_ssl:nodes=2", "train_ssl:cpus_per_gpu=8"]


@pytest.fixture(scope="module")
def rules_workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("gpu_rules")
    shutil.copytree(REPO / "config", work / "config")
    for rel in UPSTREAM:
        path = work / rel
        if rel.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    return work


def _real_workflow(work: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["timeout", "-k", "10", "240", str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
         "--workflow-profile", str(REPO / "profiles" / "default"),
         "--configfile", "config/config.yaml", str(HERE / "sbatch_rules.yaml"), *args],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def rule_sbatch_calls(rules_workdir):
    calls = {}
    for rule, target in GPU_RULES.items():
        record = rules_workdir / f"sbatch_{rule}.txt"
        env = {**os.environ, "FAKE_SBATCH_LOG": str(record),
               "PATH": f"{HERE / 'fake_slurm'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}
        res = _real_workflow(rules_workdir, env, "--profile", str(REPO / "profiles" / "slurm"),
                             "--retries", "0", "--slurm-init-seconds-before-status-checks", "1",
                             *(MULTI_NODE if rule == "train_ssl" else []), "--", target)
        assert res.returncode == 1 and "fake sbatch" in res.stdout + res.stderr, res.stderr[-3000:]
        calls.update(_submissions(record))
    assert set(calls) == {f"rule_{r}_wildcards_{w}" for r, w in (
        ("train_ssl", "demo-vit-s8"), ("distill", "demo-h0-mini"),
        ("embed", "demo-h-optimus_pcam"))}, list(calls)
    return {key.split("_wildcards_")[0].removeprefix("rule_"): call for key, call in calls.items()}


def test_real_gpu_rules_ask_slurm_for_their_resources(rule_sbatch_calls):
    def arg(call, flag):
        return call[call.index(flag) + 1]

    train, distill, embed = (rule_sbatch_calls[r] for r in ("train_ssl", "distill", "embed"))
    assert "--nodes=2" in train and "--gpus=2" in train and "--cpus-per-gpu=8" in train
    assert (arg(train, "-t"), arg(train, "--mem")) == ("120", "64000")
    assert "--nodes=1" in distill and "--gpus=4" in distill and "--cpus-per-gpu=8" in distill
    assert (arg(distill, "-t"), arg(distill, "--mem")) == ("600", "128000")
    assert "--nodes=1" in embed and "--gpus=1" in embed and "--cpus-per-gpu=8" in embed
    assert (arg(embed, "-t"), arg(embed, "--mem")) == ("45", "12000")


def test_real_gpu_rules_launch_with_the_same_geometry(rules_workdir):
    res = _real_workflow(rules_workdir, local_env(), "-n", "-p", *MULTI_NODE, "--",
                         *GPU_RULES.values())
    assert res.returncode == 0, res.stderr[-3000:]
    # train_ssl: 2 GPUs over 2 nodes -> one torchrun per node with one process each.
    for sub, geometry in (("train-ssl", "--gpus 1 --nodes 2"),
                          ("distill", "--gpus 4 --nodes 1"),
                          ("embed", "--gpus 1 --nodes 1")):
        line = next(ln for ln in res.stdout.splitlines() if f" -- {sub} " in ln)
        assert f"pathfm launch {geometry} -- {sub} " in line, line
