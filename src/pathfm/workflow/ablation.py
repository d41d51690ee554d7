"""Ablation sweeps (config ``sweeps`` and ``ablation``): the models of each sweep and the
linear-probe results (TP53: its own benchmark) every ablation model is scored on."""

from __future__ import annotations

from collections.abc import Mapping

from pathfm import sweeps as sw
from pathfm.workflow import paths
from pathfm.workflow.models import ModelPlan


class AblationPlan:
    def __init__(self, config: Mapping, models: ModelPlan):
        self.sweeps = config["sweeps"]
        self.ablation = config["ablation"]
        self._skip = config["embed"]["skip_unavailable"]
        self._tp53_tasks = config["patch_bench"]["tp53"]["tasks"]
        self._models = models

    def _evaluated(self, model: str) -> bool:
        """A sweep's model is evaluated when the registry has it and, with
        embed.skip_unavailable, when some rule (or a file) provides its weights."""
        if model not in self._models.registry:
            if self._skip:
                return False
            raise ValueError(f"config sweeps/ablation: model {model!r} is not in the registry")
        return not self._skip or self._models.available(model)

    def sweep_models(self, axis: str | None) -> dict[str, str]:
        """{value label: model name} of one sweep in config order ({} when it is absent)."""
        if not axis:
            return {}
        models = sw.sweep_models(self.sweeps, self._models.train_runs, axis)
        return {label: m for label, m in models.items() if self._evaluated(m)}

    def tasks(self) -> list[str]:
        return list(self.ablation["tasks"])

    def protocols(self) -> list[str]:
        return list(self.ablation["protocols"])

    def probes(self, benchmark: str, task: str) -> bool:
        """Sweep models are probed only on ablation.tasks: with ablation.protocols, or
        by the TP53 benchmark on a TP53 task (what ``targets`` schedules)."""
        if task not in self.tasks():
            return False
        if task in self._tp53_tasks:
            return benchmark == "tp53"
        return benchmark in [f"linear_probe-{p}" for p in self.protocols()]

    def models(self) -> list[str]:
        """Every sweep model, then the extra ablation models; each once, in config order."""
        models = [m for axis in self.sweeps["axes"] for m in self.sweep_models(axis).values()]
        models += [m for m in self.ablation["models"] if self._evaluated(m)]
        return list(dict.fromkeys(models))

    def targets(self) -> list[str]:
        out = []
        for task in self.tasks():
            for model in self.models():
                if task in self._tp53_tasks:
                    out.append(paths.bench_result("tp53", task, model))
                else:
                    out += [paths.bench_result(f"linear_probe-{p}", task, model)
                            for p in self.protocols()]
        return out
