"""Slide-level and GPFM benchmark families: what each task reads (demo cohorts, GDC
cohorts, Camelyon16 / PANDA slide tables), the embedding shards, results and ranks.

Camelyon16 / PANDA slide ids come from the ``slide_dataset_table`` checkpoint, GDC
cohorts' from their manifest checkpoint: those lookups belong in input functions only.
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Mapping

from pathfm.data.slide_shards import shard_slices
from pathfm.workflow import paths
from pathfm.workflow.cohorts import CheckpointOutput, CohortPlan, _no_checkpoints
from pathfm.workflow.models import ModelPlan
from pathfm.workflow.shell_args import joined, option

FAMILIES = ("classification", "survival", "retrieval", "segmentation")


@functools.cache
def _table_shards(path: str, mtime_ns: int, per_job: int) -> tuple[tuple[str, ...], ...]:
    # Read each table version once while the DAG is built, not once per job.
    with open(path) as f:
        ids = [r["slide_id"] for r in csv.DictReader(f, delimiter="\t")]
    return tuple(tuple(ids[r.start:r.stop]) for r in shard_slices(len(ids), per_job))


class SlideBenchPlan:
    def __init__(self, config: Mapping, models: ModelPlan, cohorts: CohortPlan,
                 checkpoint_output: CheckpointOutput = _no_checkpoints):
        sb = config["slide_bench"]
        self.sb = sb
        self.demo_cohorts: Mapping = sb["cohorts"]
        self.datasets: Mapping = sb["datasets"]
        self.cls, self.surv, self.ret, self.seg, self.rank = (
            sb["classification"], sb["survival"], sb["retrieval"], sb["segmentation"],
            sb["rank"])
        self._embed = config["embed"]
        self._patch_datasets = config["patch_bench"]["datasets"]
        self._models = models
        self._cohorts = cohorts
        self._checkpoint = checkpoint_output

    def models(self) -> list[str]:
        """slide_bench.models, or the embed stage's (with its skip_unavailable)."""
        if self.sb["models"] is None:
            return self._models.select(self._embed["models"], self._embed["skip_unavailable"])
        return list(self.sb["models"])

    def family(self, name: str) -> Mapping:
        return {"classification": self.cls, "survival": self.surv, "retrieval": self.ret,
                "segmentation": self.seg}[name]

    # Demo cohorts ----------------------------------------------------------------------

    def demo_slide_ids(self, name: str) -> list[str]:
        """Ids of a demo slide-task cohort (pathfm.demo_slide_tasks.cohort names them so)."""
        return [f"demo-slide-{i:03d}" for i in range(self.demo_cohorts[name]["n_slides"])]

    def demo_tile_stores_argv(self, name: str, folder: str) -> list[str]:
        """The tile stores of a demo cohort's slides (under its folder)."""
        return [f"{folder}/tiles/{s}.zarr" for s in self.demo_slide_ids(name)]

    demo_tile_stores = joined(demo_tile_stores_argv)

    # Camelyon16 / PANDA ----------------------------------------------------------------

    def dataset_shards(self, name: str) -> tuple[tuple[str, ...], ...]:
        """The dataset's slides (table order) in runs of its slides_per_job."""
        table = self._checkpoint("slide_dataset_table", name=name)
        return _table_shards(table, os.stat(table).st_mtime_ns,
                             self.datasets[name]["slides_per_job"])

    def dataset_shard_stores(self, name: str, shard: int | str, folder: str) -> list[str]:
        return [f"{folder}/{s}.zarr" for s in self.dataset_shards(name)[int(shard)]]

    def dataset_runtime(self, name: str) -> int:
        """Minutes of a tiling shard: per slide a mask, a grid and max_tiles tile reads
        (a minute, plus one per 2,000 tiles: Camelyon16 6, PANDA 2)."""
        spec = self.datasets[name]
        return 15 + spec["slides_per_job"] * (1 + (spec["max_tiles"] + 1999) // 2000)

    def dataset_tiling(self, name: str) -> dict:
        spec = self.datasets[name]
        return {k: spec[k] for k in ("mpp", "tile_px", "min_tissue")} | {
            "stride_px": spec["tile_px"]}

    def fetched_datasets(self) -> list[str]:
        """Public sets the slide benchmarks read (segmentation sets, Camelyon16 / PANDA),
        fetched by fetch_slide_bench_dataset (patch_bench fetches its own)."""
        names = {s["dataset"] for s in self.seg["tasks"].values() if s.get("dataset")}
        return sorted((names | set(self.datasets)) - set(self._patch_datasets))

    # GDC cohorts -----------------------------------------------------------------------

    def cohort_shards(self, cohort: str) -> list[list[str]]:
        """The cohort's slides (manifest order) in runs of embed.slides_per_job."""
        ids, n = self._cohorts.slide_ids(cohort), self._embed["slides_per_job"]
        return [ids[i:i + n] for i in range(0, len(ids), n)]

    def cohort_shard_tiles(self, cohort: str, tiling: str, shard: int | str) -> list[str]:
        """Per-slide tile stores, or the shard markers holding them."""
        ids = self.cohort_shards(cohort)[int(shard)]
        return self._cohorts.slide_files(cohort, "tiles", ids, tiling=tiling)

    def cohort_shard_stores(self, cohort: str, tiling: str, shard: int | str) -> list[str]:
        return [paths.tile_store(cohort, tiling, s)
                for s in self.cohort_shards(cohort)[int(shard)]]

    # Tasks -----------------------------------------------------------------------------

    def task(self, family: str, task: str) -> Mapping:
        return self.family(family)["tasks"][task]

    def task_embeddings(self, model: str, family: str, task: str) -> list[str]:
        """Tile embedding stores of a task: one per demo cohort, one per shard of a GDC
        or Camelyon16 / PANDA cohort (a 'group' array names each tile's slide)."""
        spec = self.task(family, task)
        if spec.get("cohort"):
            return [paths.slide_task_embeddings(model, spec["cohort"])]
        if spec.get("slide_dataset"):
            name = spec["slide_dataset"]
            return [paths.slide_dataset_embedding(model, name, k)
                    for k in range(len(self.dataset_shards(name)))]
        cohort, tiling = spec["gdc_cohort"], spec["tiling"]
        return [paths.cohort_shard_embedding(model, cohort, tiling, k)
                for k in range(len(self.cohort_shards(cohort)))]

    def task_inputs(self, family: str, task: str) -> dict[str, str]:
        """A task's tables: the demo cohort folder, a dataset's slide table, or the GDC
        labels and slide manifest."""
        spec = self.task(family, task)
        if spec.get("cohort"):
            return {"cohort": paths.slide_task_dir(spec["cohort"])}
        if spec.get("slide_dataset"):
            return {"table": paths.slide_dataset_table(spec["slide_dataset"])}
        return {"labels": paths.labels(spec["labels"]),
                "slides": paths.manifest(spec["gdc_cohort"])}

    @staticmethod
    def table_argv(inputs, table: str) -> list[str]:
        """Script arguments naming the table: a file of the demo cohort folder, or labels
        + manifest (``inputs``: the job's named input)."""
        keys = set(inputs.keys())
        if "cohort" in keys:
            return ["--table", f"{inputs.cohort}/{table}"]
        if "table" in keys:
            return ["--table", inputs.table]
        return ["--table", inputs.labels, "--slides", inputs.slides]

    table_args = staticmethod(joined(table_argv))

    def seg_images(self, task: str) -> str:
        spec = self.seg["tasks"][task]
        if spec.get("cohort"):
            return paths.slide_task_dir(spec["cohort"])
        return paths.dataset_dir(spec["dataset"])

    def seg_argv(self, task: str, folder: str) -> list[str]:
        """segmentation_bench.py arguments naming a task's images: npz files per split,
        or a public set."""
        spec = self.seg["tasks"][task]
        if spec.get("dataset"):
            return ["--source", spec["dataset"], "--root", folder]
        from pathfm.demo_slide_tasks import NUCLEUS_CLASSES

        # validate_config checked that the cohort has enough sections.
        ids, args, start = self.demo_slide_ids(spec["cohort"]), [], 0
        for split in ("train", "val", "test"):
            files = ids[start:start + spec[split]]
            start += spec[split]
            args += [f"--{split}", *(f"{folder}/segmentation/{s}.npz" for s in files)]
        return [*args, "--classes", *NUCLEUS_CLASSES]

    seg_args = joined(seg_argv)

    # Results ---------------------------------------------------------------------------

    def result_tasks(self) -> dict[str, list[str]]:
        out = {f"slide_classification-{p}": list(self.cls["tasks"])
               for p in self.cls["protocols"]}
        out |= {f"survival-{h}": list(self.surv["tasks"]) for h in self.surv["heads"]}
        out |= {f"retrieval-{p}": list(self.ret["tasks"]) for p in self.ret["protocols"]}
        out["segmentation"] = list(self.seg["tasks"])
        return out

    def results(self) -> list[str]:
        models = self.models()
        return [paths.bench_result(b, t, m) for b, tasks in self.result_tasks().items()
                for t in tasks for m in models]

    def rank_entries_argv(self) -> list[str]:
        """``--entry benchmark/task/metric`` per configured rank entry."""
        return [w for e in self.rank["entries"]
                for w in ("--entry", f"{e['benchmark']}/{e['task']}/{e['metric']}")]

    rank_entries_args = joined(rank_entries_argv)

    def rank_reference_argv(self) -> list[str]:
        return option("--reference", self.rank["reference"])

    rank_reference_arg = joined(rank_reference_argv)

    def rank_inputs(self) -> list[str]:
        """Result files of every (benchmark, task) the rank entries name, for every model."""
        pairs = dict.fromkeys((e["benchmark"], e["task"]) for e in self.rank["entries"])
        return [paths.bench_result(b, t, m) for b, t in pairs for m in self.models()]

    def rank_outputs(self) -> list[str]:
        return paths.table_files(self.rank["target"]) + paths.figure_files(self.rank["target"])

    def targets(self) -> list[str]:
        out = self.results()
        if self.rank["entries"] and len(self.models()) >= 2:
            out += self.rank_outputs()
        return out
