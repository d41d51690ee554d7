"""The whole DAG's plan: every stage's planner, built once from the resolved config.

``workflow/rules/common.smk`` builds one :class:`Plan` and every rule's input
functions are one-line calls into it. Each planner receives what it needs from the
others as data (the model plan's available weights, the result tasks of every
benchmark stage), so no planner depends on which ``.smk`` file was read first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from pathfm.workflow import paths
from pathfm.workflow.ablation import AblationPlan
from pathfm.workflow.cohorts import CheckpointOutput, CohortPlan, _no_checkpoints
from pathfm.workflow.models import ModelPlan
from pathfm.workflow.patch_bench import PatchBenchPlan
from pathfm.workflow.plism import PlismPlan
from pathfm.workflow.slide_bench import SlideBenchPlan
from pathfm.workflow.tables import TablePlan
from pathfm.workflow.training import TrainingPlan

# Target groups of `all` left out of the run-time summary's inputs (they are its peers).
_SUMMARY_PEERS = ("runtime", "provenance")


_PLANS: dict[int, Plan] = {}


def planned(config: Mapping) -> bool:
    """True once :func:`plan_for` has built this config's plan (validated and filled)."""
    return id(config) in _PLANS and _PLANS[id(config)].config is config


def plan_for(config: Mapping, basedir: str | Path,
             checkpoint_output: CheckpointOutput = _no_checkpoints) -> Plan:
    """The plan of this config object, built once.

    Every ``.smk`` file includes ``common.smk`` itself (so any include order works), and
    Snakemake re-reads an included file each time, so the plan is cached per config.
    """
    if not planned(config):
        _PLANS[id(config)] = Plan(config, basedir, checkpoint_output)
    return _PLANS[id(config)]


class Plan:
    def __init__(self, config: Mapping, basedir: str | Path,
                 checkpoint_output: CheckpointOutput = _no_checkpoints,
                 exists: Callable[[str], bool] = os.path.exists):
        self.config = config
        self.basedir = Path(basedir)
        self._exists = exists
        self.cohorts = CohortPlan(config, checkpoint_output)
        self.models = ModelPlan(config, exists)
        self.training = TrainingPlan(config, self.models, self.cohorts)
        self.patch = PatchBenchPlan(config, self.models)
        self.plism = PlismPlan(config, self.models)
        self.slides = SlideBenchPlan(config, self.models, self.cohorts, checkpoint_output)
        self.ablation = AblationPlan(config, self.models)
        self._result_tasks = {}
        for stage in (self.patch, self.slides, self.plism):
            for benchmark, tasks in stage.result_tasks().items():
                self._result_tasks.setdefault(benchmark, set()).update(tasks)
        self.tables = TablePlan(config, self.basedir, self.models.registry,
                                self.patch.embed_models, self.produced,
                                self.ablation.sweep_models, self.ablation.probes,
                                config["slide_bench"]["rank"]["target"])

    @staticmethod
    def script(name: str) -> str:
        """The ``pathfm`` subcommand of a step (``embed.py`` -> ``embed``; ``scripts/embed.py``
        is its alias); rules pass it as a param and run ``pathfm {params.script}``, or
        ``{params.launcher} {params.script}`` through ``pathfm launch``."""
        return name.removesuffix(".py").replace("_", "-")

    def download_limits_argv(self, archives: bool = False) -> list[str]:
        """The ``downloads`` bounds as options: the per-file deadline for every fetch,
        and the archive caps for steps that extract (``archives``)."""
        d = self.config.get("downloads", {})
        argv = [] if d.get("deadline_hours") is None else [
            "--deadline-hours", str(d["deadline_hours"])]
        if archives:
            argv += ["--max-unpacked-gib", str(d.get("max_unpacked_gib", 32)),
                     "--max-members", str(d.get("max_members", 1_000_000))]
        return argv

    def produced(self, path: str) -> bool:
        """True when a benchmark result exists or some rule of this configuration scores
        that (benchmark, task), for any model."""
        if self._exists(path):
            return True
        parsed = paths.parse_bench_result(path)
        return parsed is not None and parsed[1] in self._result_tasks.get(parsed[0], ())

    def target_groups(self) -> dict[str, Callable[[], list[str]]]:
        """What `all` builds, by group. One group per cohort: a GDC cohort's files are known
        only after its manifest checkpoint, and separate input functions let Snakemake
        schedule every cohort's checkpoint at once."""
        groups: dict[str, Callable[[], list[str]]] = {}
        for c in self.cohorts.cohorts:
            groups[f"tiles_{c}"] = lambda c=c: self.cohorts.files("tiles", [c])
            groups[f"qc_{c}"] = lambda c=c: self.cohorts.files("qc", [c])
        groups |= {
            "labels": self.cohorts.label_tables,
            "train": self.training.ssl_targets,
            "distill": self.training.distill_targets,
            "patch_bench": self.patch.targets,
            "plism": self.plism.targets,
            "slide_bench": self.slides.targets,
            "sweeps": self.ablation.targets,
            "tables": self.tables.targets,
            "provenance": lambda: list(paths.PROVENANCE),
            "runtime": lambda: [paths.RUNTIME_SUMMARY],
        }
        return dict(sorted(groups.items()))

    def all_inputs(self) -> dict[str, Callable]:
        """Named input functions of `all`, one per target group."""
        return {name: (lambda w, f=f: f()) for name, f in self.target_groups().items()}

    def cohort_inputs(self, kind: str) -> dict[str, Callable]:
        """Named input functions, one per cohort, of slides / masks / tiles."""
        return {c: (lambda w, c=c: self.cohorts.files(kind, [c])) for c in self.cohorts.cohorts}

    def summary_inputs(self) -> list[str]:
        """Every other target's files, so the run-time summary is built after them."""
        return [p for name, files in self.target_groups().items()
                if name not in _SUMMARY_PEERS for p in files()]
