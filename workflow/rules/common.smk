# Config validation and input functions. No rules here; logic belongs in src/pathfm.
import json
import re
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

CONDA_ENV = "../../envs/pathfm.yaml"
COHORTS = config["cohorts"]

# Parameter objects are checked once at start so a typo fails before any job runs.
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.tiling import TilingParams

MASK_PARAMS = MaskParams.from_dict(config["mask"])
TILINGS = {name: TilingParams.from_dict(v) for name, v in config["tilings"].items()}
for _name, _tiling in TILINGS.items():
    if _tiling.name != _name:
        raise ValueError(
            f"config tilings.{_name}: the name must be {_tiling.name!r} for these settings"
        )
for _cohort, _spec in COHORTS.items():
    for _tiling in _spec.get("tilings", []):
        if _tiling not in TILINGS:
            raise ValueError(
                f"config cohorts.{_cohort}.tilings: {_tiling!r} is not defined under 'tilings'"
            )


def script(name):
    """Path of a step script; rules pass it as a param so the shell names no globals."""
    return str(Path(workflow.basedir) / "scripts" / name)


def cohorts_from(source):
    return [name for name, spec in COHORTS.items() if spec["source"] == source]


def wildcard_choice(names):
    """Regex matching exactly these names (or nothing), to keep rules of different sources apart."""
    return "|".join(map(re.escape, names)) if names else "(?!x)x"


def slide_ids(cohort):
    spec = COHORTS[cohort]
    if spec["source"] == "synthetic":
        return [f"{cohort}_{i:03d}" for i in range(spec["n_slides"])]
    raise ValueError(f"cohort {cohort}: unknown source {spec['source']!r}")


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
    return [mask_outputs(c, s)["mask.json"] for c in COHORTS for s in slide_ids(c)]


def tile_store_path(cohort, tiling, slide_id):
    return f"results/tiles/{cohort}/{tiling}/{slide_id}.zarr"


def all_tile_stores():
    return [
        tile_store_path(c, t, s)
        for c, spec in COHORTS.items()
        for t in spec.get("tilings", [])
        for s in slide_ids(c)
    ]


def all_qc_summaries():
    return [f"results/qc/{c}/summary.png" for c in COHORTS]
