"""PLISM robustness: slide sets (synthetic, the published WSIs, or the hub's tile files),
registration to the reference slide, matched tiles, per-model embeddings and metrics."""

from __future__ import annotations

from collections.abc import Mapping

from pathfm.workflow import paths
from pathfm.workflow.models import ModelPlan
from pathfm.workflow.shell_args import as_json, joined, option

REPORT_TABLE = "h0mini_table3_plism"
REPORT_FIGURES = ("h0mini_fig1_robustness", "h0mini_fig4_scanner_vs_staining")


class PlismPlan:
    def __init__(self, config: Mapping, models: ModelPlan):
        self.plism = config["plism"]
        self.sets: Mapping = self.plism["sets"]
        self._mask = config["mask"]
        self._models = models

    def set_names(self, *sources: str) -> list[str]:
        return [n for n, s in self.sets.items() if not sources or s["source"] in sources]

    def spec(self, plism_set: str) -> Mapping:
        return self.sets[plism_set]

    def slides(self, plism_set: str) -> list[str]:
        """Slide ids {staining}_{scanner}, staining-major (the order pairs are listed in)."""
        spec = self.sets[plism_set]
        return [f"{st}_{sc}" for st in spec["stainings"] for sc in spec["scanners"]]

    def slide_path(self, plism_set: str, slide_id: str) -> str:
        spec = self.sets[plism_set]
        if spec["source"] == "raw":
            return f"{spec['raw_dir']}/{slide_id}.{spec['raw_ext']}"
        return f"{paths.plism_slides_dir(plism_set)}/{slide_id}.svs"

    def slide_inputs(self, plism_set: str, slide_ids: list[str]) -> list[str]:
        """Files a job reading these slides depends on: the rendered folder of a synthetic
        set (one job makes every slide), the published WSIs of a raw set."""
        if self.sets[plism_set]["source"] == "synthetic":
            return [paths.plism_slides_dir(plism_set)]
        return [self.slide_path(plism_set, s) for s in slide_ids]

    def register_inputs(self, plism_set: str, slide_id: str) -> dict[str, list[str]]:
        spec = self.sets[plism_set]
        slides = self.slide_inputs(plism_set, sorted({spec["reference"], slide_id}))
        truth = [paths.plism_truth(plism_set)] if spec["source"] == "synthetic" else []
        return {"slides": slides, "truth": truth}

    def identity_flag(self, plism_set: str, slide_id: str) -> str:
        return "--identity" if slide_id == self.sets[plism_set]["reference"] else ""

    def transforms(self, plism_set: str) -> list[str]:
        return [paths.plism_transform(plism_set, s) for s in self.slides(plism_set)]

    def hub_files(self, plism_set: str) -> list[str]:
        return [paths.plism_hub_file(plism_set, s) for s in self.slides(plism_set)]

    def pairs_argv(self, plism_set: str, files: list[str]) -> list[str]:
        """``slide_id=file`` arguments, one per slide of the set in order."""
        return [f"{s}={f}" for s, f in zip(self.slides(plism_set), files)]

    pairs = joined(pairs_argv)

    def per_slide_argv(self, plism_set: str, folder: str) -> list[str]:
        """``slide_id=folder/slide_id.zarr`` arguments for every slide of the set."""
        return [f"{s}={folder}/{s}.zarr" for s in self.slides(plism_set)]

    per_slide = joined(per_slide_argv)

    def slide_argv(self, plism_set: str) -> list[str]:
        """``slide_id=path`` of every slide of the set (raw or synthetic WSIs)."""
        return self.pairs_argv(plism_set, [self.slide_path(plism_set, s)
                                           for s in self.slides(plism_set)])

    slide_args = joined(slide_argv)

    def expected_tiles_argv(self, plism_set: str) -> list[str]:
        return option("--expected-tiles", self.sets[plism_set]["hub_expected_tiles"] or None)

    expected_tiles_arg = joined(expected_tiles_argv)

    def tiling_json(self) -> str:
        keys = ("tile_px", "target_mpp", "min_tissue")
        return as_json({**{k: self.plism["tiling"][k] for k in keys}, "mask": self._mask})

    def metric_json(self) -> str:
        keys = ("dtype", "top_k", "rank_rule", "chunk", "device")
        return as_json({k: self.plism["metrics"][k] for k in keys})

    def models(self) -> list[str]:
        return self._models.select(self.plism["models"], self.plism["skip_unavailable"])

    def report_set(self) -> str:
        return self.plism["report_set"] or next(iter(self.sets))

    def report_inputs(self) -> list[str]:
        return [paths.bench_result("plism", self.report_set(), m) for m in self.models()]

    @staticmethod
    def report_outputs() -> list[str]:
        return paths.table_files(REPORT_TABLE) + [
            f for fig in REPORT_FIGURES for f in paths.figure_files(fig)]

    def result_tasks(self) -> dict[str, list[str]]:
        return {"plism": self.set_names()}

    def targets(self) -> list[str]:
        if not self.sets or not self.models():
            return []
        per_set = [paths.bench_result("plism", n, m) for n in self.sets for m in self.models()]
        qc = [paths.plism_transform(n, s, ".json") for n in self.set_names("synthetic", "raw")
              for s in self.slides(n)]
        return per_set + qc + self.report_outputs()
