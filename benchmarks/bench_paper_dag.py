"""Paper scale on paper: dry-run the paper config over paper-sized cohorts.

    python benchmarks/bench_paper_dag.py --out results/bench/paper_dag.json

Writes placeholder GDC manifests of the papers' sizes (H0-mini: 6,093 TCGA
slides; kaiko.ai: ~29,000, split here into 11,765 FFPE diagnostic + 17,235
fresh-frozen tissue slides) into a scratch working directory, runs
``snakemake -n --configfile config/paper.yaml -- all`` there, and records the
wall and CPU time, jobs per rule, and the GPU-hours the paper config requests
(sum over jobs of runtime [min] / 60 x gpu, as the rules declare them) - what a
cluster allocation must cover. Nothing is downloaded; no job runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.workflow.test_paper_dry_run import placeholder_manifest  # noqa: E402

SIZES = {"tcga_h0mini": 6093, "tcga_kaiko_ffpe": 11765, "tcga_kaiko_ff": 17235}
RULE = re.compile(r"^(?:localrule|rule|checkpoint) (\w+):$")
RESOURCES = re.compile(r"^\s+resources: (.*)$")


def parse_jobs(stdout: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) for each job block of a dry-run's output."""
    jobs, rule = [], None
    for line in stdout.splitlines():
        if m := RULE.match(line):
            rule = m[1]
            jobs.append((rule, {}))
        elif (m := RESOURCES.match(line)) and rule is not None:
            jobs[-1] = (rule, dict(kv.split("=", 1) for kv in m[1].split(", ") if "=" in kv))
    return jobs


def summarise(jobs: list[tuple[str, dict[str, str]]]) -> dict:
    counts = Counter(rule for rule, _ in jobs)
    gpu_hours: dict[str, float] = defaultdict(float)
    for rule, res in jobs:
        gpu = float(res.get("gpu", 0) or 0)
        if gpu > 0:
            gpu_hours[rule] += gpu * float(res.get("runtime", 0)) / 60.0
    return {"jobs": sum(counts.values()), "jobs_per_rule": dict(sorted(counts.items())),
            "gpu_hours_per_rule": {k: round(v, 1) for k, v in sorted(gpu_hours.items())},
            "gpu_hours": round(sum(gpu_hours.values()), 1)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON result")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of paper sizes")
    args = parser.parse_args(argv)
    sizes = {c: max(1, round(n * args.scale)) for c, n in SIZES.items()}
    snakemake = Path(sys.executable).parent / "snakemake"
    env = {**os.environ, "PATH": f"{snakemake.parent}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "config", work / "config")
        (work / "results" / "manifests").mkdir(parents=True)
        for i, (cohort, n) in enumerate(sizes.items()):
            placeholder_manifest(cohort, n, seed=i).to_csv(
                work / "results" / "manifests" / f"{cohort}.tsv", sep="\t", index=False)
        t0 = time.perf_counter()
        cpu0 = _children_cpu()
        res = subprocess.run([str(snakemake), "--snakefile", str(REPO / "Snakefile"), "-n",
                              "--cores", "1", "--configfile", "config/paper.yaml", "--", "all"],
                             cwd=work, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        cpu_seconds = _children_cpu() - cpu0
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-5000:])
        return res.returncode
    result = {"benchmark": "paper_dag", "slides": sizes, "dry_run_seconds": round(seconds, 1),
              # CPU time as well: on a shared machine the wall time mostly measures the load.
              "dry_run_cpu_seconds": round(cpu_seconds, 1),
              **summarise(parse_jobs(res.stdout))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
