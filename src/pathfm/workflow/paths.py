"""The stage contract: one function per path that a rule writes and another reads.

Rules call these with wildcard placeholders (``paths.slide("{cohort}", "{slide_id}")``)
to declare their outputs, and the planners call them with real names to ask for
inputs, so each pattern is spelt once. Everything is relative to the workflow's
working directory.
"""

from __future__ import annotations

MASK_FILES = ("mask.png", "tissue.geojson", "qc.png", "mask.json")
TABLE_SUFFIXES = (".csv", ".md", ".tex")
FIGURE_SUFFIXES = (".png", ".svg")


def _shard(shard: int | str) -> str:
    # A placeholder ("{shard}") stays as it is; a number is zero-padded as on disk.
    return shard if isinstance(shard, str) else f"{shard:05d}"


# Slides and cohorts ----------------------------------------------------------------


def manifest(cohort: str) -> str:
    return f"results/manifests/{cohort}.tsv"


def slide(cohort: str, slide_id: str) -> str:
    return f"results/slides/{cohort}/{slide_id}.svs"


def download_record(cohort: str, slide_id: str) -> str:
    return f"results/slides/{cohort}/{slide_id}.download.json"


def synth_truth(cohort: str, slide_id: str) -> str:
    return f"results/synth/{cohort}/{slide_id}"


def mask_dir(cohort: str, slide_id: str | None = None) -> str:
    base = f"results/masks/{cohort}"
    return base if slide_id is None else f"{base}/{slide_id}"


def mask_file(cohort: str, slide_id: str, name: str) -> str:
    """One of MASK_FILES; ``mask.json`` is what consumers depend on."""
    return f"{mask_dir(cohort, slide_id)}/{name}"


def tiles_dir(cohort: str, tiling: str) -> str:
    return f"results/tiles/{cohort}/{tiling}"


def tile_store(cohort: str, tiling: str, slide_id: str) -> str:
    return f"{tiles_dir(cohort, tiling)}/{slide_id}.zarr"


def shard_marker(kind: str, cohort: str, shard: int | str, tiling: str | None = None) -> str:
    """The marker of one shard of a cohort's per-slide step (kind: slides, masks, tiles)."""
    base = {
        "slides": f"results/slides/{cohort}",
        "masks": mask_dir(cohort),
        "tiles": tiles_dir(cohort, tiling),
    }[kind]
    return f"{base}/shards/{_shard(shard)}.shard.json"


def qc_summary(cohort: str, suffix: str = ".png") -> str:
    return f"results/qc/{cohort}/summary{suffix}"


def labels(label: str) -> str:
    return f"results/labels/{label}.tsv"


# Models and embeddings -------------------------------------------------------------


def model_dir(model: str) -> str:
    return f"results/models/{model}"


def model_weights(model: str) -> str:
    return f"{model_dir(model)}/weights.safetensors"


def train_dir(model: str) -> str:
    """Checkpoints and logs of a training job: not outputs, so a rerun resumes."""
    return f"results/train/{model}"


def dataset_dir(dataset: str) -> str:
    return f"results/datasets/{dataset}"


def embeddings(model: str, dataset: str) -> str:
    return f"results/embeddings/{model}/{dataset}.zarr"


def bench_result(benchmark: str, task: str, model: str) -> str:
    """One benchmark score file: what every table cell and rank entry reads."""
    return f"results/bench/{benchmark}/{task}/{model}.json"


def parse_bench_result(path: str) -> tuple[str, str, str] | None:
    """(benchmark, task, model) of a bench_result path, None for any other path."""
    parts = path.split("/")
    if len(parts) != 5 or parts[:2] != ["results", "bench"] or not parts[4].endswith(".json"):
        return None
    return parts[2], parts[3], parts[4][: -len(".json")]


# PLISM ---------------------------------------------------------------------------------


def plism_dir(plism_set: str) -> str:
    return f"results/plism/{plism_set}"


def plism_slides_dir(plism_set: str) -> str:
    return f"{plism_dir(plism_set)}/slides"


def plism_truth(plism_set: str) -> str:
    return f"{plism_dir(plism_set)}/ground_truth.json"


def plism_transform(plism_set: str, slide_id: str, suffix: str = ".tfm") -> str:
    return f"{plism_dir(plism_set)}/transforms/{slide_id}{suffix}"


def plism_tiles(plism_set: str) -> str:
    return f"{plism_dir(plism_set)}/tiles"


def plism_hub_dir(plism_set: str) -> str:
    return f"{plism_dir(plism_set)}/hub"


def plism_hub_file(plism_set: str, slide_id: str) -> str:
    return f"{plism_hub_dir(plism_set)}/{slide_id}_to_GMH_S60.tif.h5"


def plism_embeddings(model: str, plism_set: str) -> str:
    """One folder per (model, set) holding {slide_id}.zarr for every slide of the set."""
    return f"results/embeddings/{model}/plism/{plism_set}"


# Slide benchmarks ----------------------------------------------------------------------


def slide_task_dir(name: str) -> str:
    return f"results/slide_tasks/{name}"


def slide_task_embeddings(model: str, name: str) -> str:
    return f"results/embeddings/{model}/slide_tasks/{name}.zarr"


def slide_dataset_table(name: str) -> str:
    return f"results/slide_datasets/{name}/slides.tsv"


def slide_dataset_tiles(name: str, shard: int | str) -> str:
    return f"results/slide_datasets/{name}/tiles/shard{_shard(shard)}"


def slide_dataset_masks(name: str, shard: int | str) -> str:
    return f"results/slide_datasets/{name}/masks/shard{_shard(shard)}"


def slide_dataset_embedding(model: str, name: str, shard: int | str) -> str:
    return f"results/embeddings/{model}/slide_datasets/{name}/shard{_shard(shard)}.zarr"


def cohort_shard_embedding(model: str, cohort: str, tiling: str, shard: int | str) -> str:
    return f"results/embeddings/{model}/tiles/{cohort}/{tiling}/shard{_shard(shard)}.zarr"


# Tables, figures, report -----------------------------------------------------------


def table(target: str, suffix: str = ".csv") -> str:
    return f"results/tables/{target}{suffix}"


def figure(target: str, suffix: str = ".png") -> str:
    return f"results/figures/{target}{suffix}"


def table_files(target: str) -> list[str]:
    return [table(target, s) for s in TABLE_SUFFIXES]


def figure_files(target: str) -> list[str]:
    return [figure(target, s) for s in FIGURE_SUFFIXES]


def table_html(target: str) -> str:
    return f"results/report/tables/{target}.html"


def published_values(target: str) -> str:
    """Relative to the workflow's base directory (committed with the code)."""
    return f"config/paper_values/{target}.csv"


PROVENANCE = (
    "results/provenance/config.yaml",
    "results/provenance/versions.txt",
    "results/provenance/provenance.html",
)
RUNTIME_SUMMARY = "results/runtime.json"
