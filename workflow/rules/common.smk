# Config validation and input functions. No rules here; logic belongs in src/pathfm.
import functools
import json
import os
import re
import shlex
from pathlib import Path

import yaml

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

from pathfm.config_defaults import fill_defaults

_SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"
fill_defaults(
    config,
    yaml.safe_load((_SCHEMAS / "config.schema.yaml").read_text()),
    _SCHEMAS,
)

CONDA_ENV = "../../envs/pathfm.yaml"
COHORTS = config["cohorts"]

# Parameter objects are checked once at start so a typo fails before any job runs.
from pathfm.data.slide_shards import shard_of, shard_slices
from pathfm.manifest import read_manifest
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.tiling import TilingParams
from pathfm.workflow.validate import validate_config

MASK_PARAMS = MaskParams.from_dict(config["mask"])
TILINGS = {name: TilingParams.from_dict(v) for name, v in config["tilings"].items()}
validate_config(config)


# Each stage's .smk registers a function returning the files `all` must build, so
# adding a stage never means editing the Snakefile's target list.
ALL_TARGETS = {}


def all_target_inputs():
    """Named input functions for `all`, one per registered target group."""
    return {name: (lambda w, f=f: f()) for name, f in sorted(ALL_TARGETS.items())}


def script(name):
    """Path of a step script; rules pass it as a param so the shell names no globals."""
    return str(Path(workflow.basedir) / "scripts" / name)


def cohorts_from(source):
    return [name for name, spec in COHORTS.items() if spec["source"] == source]


def wildcard_choice(names):
    """Regex matching exactly these names (or nothing), to keep rules of different sources apart."""
    return "|".join(map(re.escape, names)) if names else "(?!x)x"


def gdc_cohorts(frozen=None):
    """GDC cohorts; frozen=True: those read from a committed manifest, False: queried live."""
    return [
        name
        for name in cohorts_from("gdc")
        if frozen is None or bool(COHORTS[name].get("manifest")) == frozen
    ]


def gdc_query_args(cohort):
    spec = COHORTS[cohort]
    args = ["--projects", *spec["projects"], "--strategies", *spec["strategies"]]
    for key, flag in (
        ("n_slides", "--n-slides"),
        ("seed", "--seed"),
        ("stratify", "--stratify"),
    ):
        if spec.get(key) is not None:
            args += [flag, str(spec[key])]
    return " ".join(shlex.quote(a) for a in args)


def slide_ids(cohort):
    """Slide ids of a cohort: computed for synthetic cohorts, read from the manifest otherwise.

    For GDC cohorts the manifest is a checkpoint, so this must only be called from
    input functions (Snakemake re-evaluates them once the manifest exists).
    """
    spec = COHORTS[cohort]
    if spec["source"] == "synthetic":
        return [f"{cohort}_{i:03d}" for i in range(spec["n_slides"])]
    producer = (
        checkpoints.frozen_manifest
        if spec.get("manifest")
        else checkpoints.gdc_manifest
    )
    manifest = producer.get(cohort=cohort).output[0]
    return list(_manifest_slide_ids(manifest, os.stat(manifest).st_mtime_ns))


@functools.lru_cache(maxsize=None)
def _manifest_slide_ids(path, mtime_ns):
    # Input functions call slide_ids once per job: read and validate each manifest
    # version once, not tens of thousands of times while the DAG is built.
    return tuple(read_manifest(path)["slide_id"])


def slide_path(cohort, slide_id):
    return f"results/slides/{cohort}/{slide_id}.svs"


def manifest_path(cohort):
    return f"results/manifests/{cohort}.tsv"


def as_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def mask_outputs(cohort, slide_id):
    base = f"results/masks/{cohort}/{slide_id}"
    return {
        name: f"{base}/{name}"
        for name in ("mask.png", "tissue.geojson", "qc.png", "mask.json")
    }


def all_masks():
    return [f for c in COHORTS for f in slide_files(c, "masks")]


def tile_store_path(cohort, tiling, slide_id):
    return f"results/tiles/{cohort}/{tiling}/{slide_id}.zarr"


def all_tile_stores(cohorts=None):
    return [
        f
        for c in cohorts or COHORTS
        for t in COHORTS[c].get("tilings", [])
        for f in slide_files(c, "tiles", tiling=t)
    ]


def slides_per_job(cohort):
    return COHORTS[cohort].get("slides_per_job", 1)


def shard_marker(kind, cohort, shard, tiling=None):
    """The marker of one shard of a cohort's per-slide step (slide_shards.smk)."""
    base = {
        "slides": f"results/slides/{cohort}",
        "masks": f"results/masks/{cohort}",
        "tiles": f"results/tiles/{cohort}/{tiling}",
    }[kind]
    return f"{base}/shards/{int(shard):05d}.shard.json"


def cohort_shard_ids(cohort, shard):
    return shard_of(slide_ids(cohort), slides_per_job(cohort), int(shard))


def sharded_cohorts(gdc_only=False):
    return [
        c
        for c in COHORTS
        if slides_per_job(c) > 1 and (not gdc_only or COHORTS[c]["source"] == "gdc")
    ]


def shard_slide_inputs(cohort, shard):
    """A shard's slides: the download marker (GDC) or the synthetic slides."""
    if COHORTS[cohort]["source"] == "gdc":
        return [shard_marker("slides", cohort, shard)]
    return [slide_path(cohort, s) for s in cohort_shard_ids(cohort, shard)]


def slide_files(cohort, kind, ids=None, tiling=None):
    """What a consumer of a cohort's slides, masks or tile stores (kind) depends on.

    Per-slide files (slide, mask.json, tile store) of ``ids`` (default: every slide),
    or, for a cohort with slides_per_job > 1, the markers of the shards holding them.
    """
    all_ids = slide_ids(cohort)
    ids = all_ids if ids is None else ids
    n = slides_per_job(cohort)
    if n > 1 and not (kind == "slides" and COHORTS[cohort]["source"] == "synthetic"):
        index = {s: i for i, s in enumerate(all_ids)}
        shards = sorted({index[s] // n for s in ids})
        return [shard_marker(kind, cohort, k, tiling) for k in shards]
    per_slide = {
        "slides": lambda s: slide_path(cohort, s),
        "masks": lambda s: mask_outputs(cohort, s)["mask.json"],
        "tiles": lambda s: tile_store_path(cohort, tiling, s),
    }[kind]
    return [per_slide(s) for s in ids]


def all_qc_summaries(cohorts=None):
    return [f"results/qc/{c}/summary.png" for c in cohorts or COHORTS]


def all_slides(cohorts=None):
    return [f for c in cohorts or COHORTS for f in slide_files(c, "slides")]


def per_cohort_inputs(files_of):
    """Named input functions, one per cohort (see ALL_TARGETS on checkpoints)."""
    return {c: (lambda w, c=c: files_of([c])) for c in COHORTS}


def all_labels():
    return [f"results/labels/{label}.tsv" for label in config.get("labels", {})]


# One entry per cohort: a GDC cohort's files are known only after its manifest
# checkpoint, and separate input functions let Snakemake schedule every cohort's
# checkpoint at once instead of discovering them one after another.
for _cohort in COHORTS:
    ALL_TARGETS[f"tiles_{_cohort}"] = lambda c=_cohort: all_tile_stores([c])
    ALL_TARGETS[f"qc_{_cohort}"] = lambda c=_cohort: all_qc_summaries([c])
ALL_TARGETS["labels"] = all_labels
