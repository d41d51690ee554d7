"""Cohorts: which slides exist and what a consumer of their slides, masks or tiles needs.

A synthetic cohort's slide ids follow from its config; a GDC cohort's come from its
manifest, which a checkpoint writes. The planner is given ``checkpoint_output(rule,
**wildcards) -> path``; Snakemake's checkpoints raise until the file exists, so
:meth:`CohortPlan.slide_ids` must only be called from input functions for GDC cohorts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping

from pathfm.data.slide_shards import shard_of
from pathfm.manifest import read_manifest
from pathfm.workflow import paths
from pathfm.workflow.shell_args import as_json, joined
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.tiling import TilingParams

CheckpointOutput = Callable[..., str]


def _no_checkpoints(rule: str, **wildcards) -> str:
    raise RuntimeError(f"checkpoint {rule} ({wildcards}) is only known inside a workflow run")


@functools.cache
def _manifest_slide_ids(path: str, mtime_ns: int) -> tuple[str, ...]:
    # Input functions ask once per job: read and validate each manifest version once,
    # not tens of thousands of times while the DAG is built.
    return tuple(read_manifest(path)["slide_id"])


class CohortPlan:
    def __init__(self, config: Mapping, checkpoint_output: CheckpointOutput = _no_checkpoints):
        self.cohorts: Mapping = config["cohorts"]
        self.labels: Mapping = config["labels"]
        self._checkpoint = checkpoint_output
        # Parsed now, so that a typo in mask or tilings fails before any job runs.
        self.mask = MaskParams.from_dict(config["mask"])
        self.tiling_params = {n: TilingParams.from_dict(v) for n, v in config["tilings"].items()}

    def mask_json(self) -> str:
        return as_json(self.mask.to_dict())

    def tiling_json(self, tiling: str) -> str:
        return as_json(self.tiling_params[tiling].to_dict())

    def of_source(self, source: str) -> list[str]:
        return [name for name, spec in self.cohorts.items() if spec["source"] == source]

    def gdc(self, frozen: bool | None = None) -> list[str]:
        """GDC cohorts; frozen=True: read from a committed manifest, False: queried live."""
        return [c for c in self.of_source("gdc")
                if frozen is None or bool(self.cohorts[c]["manifest"]) == frozen]

    def controlled_access(self) -> bool:
        return any(self.cohorts[c]["controlled_access"] for c in self.gdc())

    def gdc_query_argv(self, cohort: str) -> list[str]:
        """gdc_manifest.py's query options (projects, strategies, sampling)."""
        spec = self.cohorts[cohort]
        args = ["--projects", *spec["projects"], "--strategies", *spec["strategies"]]
        for key, flag in (("n_slides", "--n-slides"), ("seed", "--seed"),
                          ("stratify", "--stratify")):
            if spec[key] is not None:
                args += [flag, str(spec[key])]
        return args

    gdc_query_args = joined(gdc_query_argv)

    def manifest_source(self, cohort: str) -> str | list:
        """The committed manifest a frozen GDC cohort is read from."""
        return self.cohorts[cohort]["manifest"]

    def slide_ids(self, cohort: str) -> list[str]:
        spec = self.cohorts[cohort]
        if spec["source"] == "synthetic":
            return [f"{cohort}_{i:03d}" for i in range(spec["n_slides"])]
        rule = "frozen_manifest" if spec["manifest"] else "gdc_manifest"
        path = self._checkpoint(rule, cohort=cohort)
        return list(_manifest_slide_ids(path, os.stat(path).st_mtime_ns))

    def synth_seed(self, cohort: str, slide_id: str) -> int:
        return self.cohorts[cohort]["seed"] + self.slide_ids(cohort).index(slide_id)

    def synth_params(self, cohort: str) -> dict:
        return self.cohorts[cohort]["synth"]

    def synth_inputs(self, cohort: str) -> dict[str, list[str]]:
        ids = self.slide_ids(cohort)
        return {"slides": [paths.slide(cohort, s) for s in ids],
                "truth": [paths.synth_truth(cohort, s) for s in ids]}

    def mpp_policy(self, cohort: str) -> str:
        return self.cohorts[cohort]["mpp_policy"]

    def tilings(self, cohort: str) -> list[str]:
        return list(self.cohorts[cohort]["tilings"])

    # Shards (slides_per_job > 1) -------------------------------------------------------

    def slides_per_job(self, cohort: str) -> int:
        return self.cohorts[cohort]["slides_per_job"]

    def sharded(self, gdc_only: bool = False) -> list[str]:
        return [c for c in self.cohorts if self.slides_per_job(c) > 1
                and (not gdc_only or self.cohorts[c]["source"] == "gdc")]

    def shard_ids(self, cohort: str, shard: int | str) -> list[str]:
        return shard_of(self.slide_ids(cohort), self.slides_per_job(cohort), int(shard))

    def shard_slide_inputs(self, cohort: str, shard: int | str) -> list[str]:
        """A shard's slides: the download marker (GDC) or the synthetic slides."""
        if self.cohorts[cohort]["source"] == "gdc":
            return [paths.shard_marker("slides", cohort, int(shard))]
        return [paths.slide(cohort, s) for s in self.shard_ids(cohort, shard)]

    def slide_files(self, cohort: str, kind: str, ids: list[str] | None = None,
                    tiling: str | None = None) -> list[str]:
        """What a consumer of a cohort's slides, masks or tile stores (kind) depends on.

        Per-slide files (slide, mask.json, tile store) of ``ids`` (default: every slide),
        or, for a cohort with slides_per_job > 1, the markers of the shards holding them
        (synthetic slides are rendered one per job either way).
        """
        all_ids = self.slide_ids(cohort)
        ids = all_ids if ids is None else ids
        n = self.slides_per_job(cohort)
        if n > 1 and not (kind == "slides" and self.cohorts[cohort]["source"] == "synthetic"):
            index = {s: i for i, s in enumerate(all_ids)}
            shards = sorted({index[s] // n for s in ids})
            return [paths.shard_marker(kind, cohort, k, tiling) for k in shards]
        per_slide = {
            "slides": lambda s: paths.slide(cohort, s),
            "masks": lambda s: paths.mask_file(cohort, s, "mask.json"),
            "tiles": lambda s: paths.tile_store(cohort, tiling, s),
        }[kind]
        return [per_slide(s) for s in ids]

    def all_tile_stores(self, cohort: str) -> list[str]:
        return [f for t in self.tilings(cohort)
                for f in self.slide_files(cohort, "tiles", tiling=t)]

    # Targets ---------------------------------------------------------------------------

    def files(self, kind: str, cohorts: list[str] | None = None) -> list[str]:
        """Every cohort's (or these cohorts') slides, masks, tile stores or QC summary."""
        out = []
        for c in cohorts or list(self.cohorts):
            if kind == "tiles":
                out += self.all_tile_stores(c)
            elif kind == "qc":
                out.append(paths.qc_summary(c))
            else:
                out += self.slide_files(c, kind)
        return out

    def label_tables(self) -> list[str]:
        return [paths.labels(label) for label in self.labels]

    def label_projects(self, label: str) -> list[str]:
        return list(self.labels[label]["projects"])
