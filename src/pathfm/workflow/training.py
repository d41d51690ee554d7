"""Training jobs: SSL runs (``train.runs`` and the sweeps' derived runs) and distillation
runs (``distill.runs``), one job per model, with what each reads and its command line."""

from __future__ import annotations

from collections.abc import Mapping

from pathfm.data import train_runs as tr
from pathfm.train.distill_workflow import frozen_weight_inputs
from pathfm.workflow import paths
from pathfm.workflow.cohorts import CohortPlan
from pathfm.workflow.models import ModelPlan
from pathfm.workflow.shell_args import as_json, joined, option


class TrainingPlan:
    def __init__(self, config: Mapping, models: ModelPlan, cohorts: CohortPlan):
        self.registry_file = config["train"]["registry"]
        self.runs = models.train_runs
        self.distill_runs = models.distill_runs
        self.distill_configs = models.distill_configs
        self._models = models
        self._cohorts = cohorts

    # SSL runs --------------------------------------------------------------------------

    def manifests(self, run: str) -> list[str]:
        return tr.manifest_inputs(self.runs, run, paths.manifest)

    def slide_inputs(self, run: str, kind: str) -> list[str]:
        """The run's slides or masks (or the shard markers holding them)."""
        return tr.slide_inputs(self.runs, run, self._cohorts.slide_ids,
                               lambda c, ids: self._cohorts.slide_files(c, kind, ids))

    def init_input(self, run: str) -> list[str]:
        # Every workflow run has fetch_weights, so hub init weights are always an input.
        return tr.init_input(self.runs, self._models.train_registry, run, True)

    def init_argv(self, run: str) -> list[str]:
        """``--init WEIGHTS`` when the run starts from other weights."""
        return option("--init", tr.init_weights(self.runs, self._models.train_registry, run))

    init_option = joined(init_argv)

    def registry_argv(self) -> list[str]:
        """``--registry FILE`` when config train.registry names one."""
        return option("--registry", self.registry_file)

    registry_option = joined(registry_argv)

    def resource(self, run: str, name: str) -> int:
        return self.runs[run][name]

    def arch(self, run: str) -> str:
        return self.runs[run]["model"]

    def mask_dirs(self, run: str) -> list[str]:
        return [paths.mask_dir(c) for c in self.runs[run]["cohorts"]]

    def mpp_policy(self, run: str) -> str:
        # validate_config checked that a run's cohorts share one policy.
        return self._cohorts.mpp_policy(self.runs[run]["cohorts"][0])

    def ssl_json(self, run: str) -> str:
        spec = self.runs[run]
        return as_json({**spec["ssl"], "objective": spec["objective"], "seed": spec["seed"]})

    def section_json(self, run: str, section: str) -> str:
        """epochs, patching or multicrop of the run, as the script's JSON argument."""
        return as_json(self.runs[run][section])

    def subset_runs(self) -> list[str]:
        return [r for r in self.runs if tr.wsi_subset(self.runs, r)]

    def subset(self, run: str) -> tuple[float, int]:
        return tr.wsi_subset(self.runs, run)

    def ssl_targets(self) -> list[str]:
        return [paths.model_weights(r) for r in self.runs]

    # Distillation runs -----------------------------------------------------------------

    def frozen_inputs(self, run: str) -> list[str]:
        return frozen_weight_inputs(self.distill_configs[run], self._models.trained(), True)

    def distill_tiles(self, run: str) -> list[str]:
        spec = self.distill_runs[run]
        return self._cohorts.slide_files(spec["cohort"], "tiles", tiling=spec["tiling"])

    def distill_manifest(self, run: str) -> str:
        return paths.manifest(self.distill_runs[run]["cohort"])

    def distill_resource(self, run: str, name: str) -> int:
        return self.distill_runs[run][name]

    def distill_json(self, run: str) -> str:
        return as_json(self.distill_configs[run])

    def distill_tiles_dir(self, run: str) -> str:
        spec = self.distill_runs[run]
        return paths.tiles_dir(spec["cohort"], spec["tiling"])

    def distill_slides_dir(self, run: str) -> str:
        return f"results/slides/{self.distill_runs[run]['cohort']}"

    def distill_targets(self) -> list[str]:
        return [paths.model_weights(m) for m in self.distill_runs]
