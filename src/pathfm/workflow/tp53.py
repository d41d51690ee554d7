"""TP53 patch sets drawn from a GDC cohort (patch_bench datasets of origin tcga).

One job per dataset reads every slide and mask of its cohort (the per-slide files, or
the shard markers holding them), the cohort's manifest and the TP53 label table, and
writes results/datasets/{name} in the format the embed and tp53_bench rules read, so
past that folder such a dataset is planned like the demo's TP53 set.
"""

from __future__ import annotations

from collections.abc import Mapping

from pathfm.sources.tp53_patches import TP53PatchParams
from pathfm.workflow import paths
from pathfm.workflow.cohorts import CohortPlan
from pathfm.workflow.shell_args import as_json
from pathfm.workflow.validate import ConfigError

ORIGIN = "tcga"
# params keys that choose the inputs; the others are TP53PatchParams.
_INPUT_KEYS = ("cohort", "labels")
DEFAULT_LABELS = "tp53"


class TP53PatchPlan:
    def __init__(self, config: Mapping, cohorts: CohortPlan):
        datasets = config["patch_bench"]["datasets"]
        self.datasets: dict[str, Mapping] = {n: s for n, s in datasets.items()
                                              if s["origin"] == ORIGIN}
        self._cohorts = cohorts
        self._labels = config["labels"]
        # Checked now, so that a wrong cohort or setting stops the run before any job.
        self._params = {n: self._check(n, s) for n, s in self.datasets.items()}

    def _check(self, name: str, spec: Mapping) -> TP53PatchParams:
        key = f"config patch_bench.datasets.{name}.params"
        params = dict(spec["params"])
        cohort = params["cohort"]
        if cohort not in self._cohorts.cohorts:
            raise ConfigError(f"{key}.cohort: {cohort!r} is not a cohort (cohorts: "
                              f"{sorted(self._cohorts.cohorts)})")
        label = params.get("labels", DEFAULT_LABELS)
        if label not in self._labels:
            raise ConfigError(f"{key}.labels: {label!r} is not in labels; add labels.{label} "
                              f"with the cohort's projects so that gdc_labels fetches it")
        cohort_projects = set(self._cohorts.cohorts[cohort].get("projects") or [])
        unlabelled = sorted(cohort_projects - set(self._labels[label]["projects"]))
        if unlabelled:
            raise ConfigError(f"{key}: cohort {cohort!r} has projects {unlabelled} that "
                              f"labels.{label}.projects leaves out; their patients would get no "
                              f"label and no patch")
        try:
            return TP53PatchParams.from_dict({k: v for k, v in params.items()
                                              if k not in _INPUT_KEYS})
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from exc

    def names(self) -> list[str]:
        return list(self.datasets)

    def cohort(self, name: str) -> str:
        return self.datasets[name]["params"]["cohort"]

    def label_table(self, name: str) -> str:
        return paths.labels(self.datasets[name]["params"].get("labels", DEFAULT_LABELS))

    def manifest(self, name: str) -> str:
        return paths.manifest(self.cohort(name))

    def slide_inputs(self, name: str) -> list[str]:
        """Every slide of the cohort (or its shard markers): which slides have a labelled
        patient is known only once the label table exists."""
        return self._cohorts.slide_files(self.cohort(name), "slides")

    def mask_inputs(self, name: str) -> list[str]:
        return self._cohorts.slide_files(self.cohort(name), "masks")

    def masks_dir(self, name: str) -> str:
        return paths.mask_dir(self.cohort(name))

    def mpp_policy(self, name: str) -> str:
        return self._cohorts.mpp_policy(self.cohort(name))

    def settings(self, name: str) -> TP53PatchParams:
        return self._params[name]

    def settings_json(self, name: str) -> str:
        """Every setting, defaults resolved, so the job's command records the whole draw."""
        return as_json(self._params[name].to_dict())

    def seed(self, name: str) -> int:
        return self.datasets[name]["seed"]
