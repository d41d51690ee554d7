# Input functions and targets of the slide_bench stage (no rules here).
import csv

SB = config["slide_bench"]
SB_COHORTS = SB["cohorts"]
SB_DATASETS = SB["datasets"]
SB_CLS, SB_SURV, SB_RET, SB_SEG, SB_RANK = (
    SB["classification"],
    SB["survival"],
    SB["retrieval"],
    SB["segmentation"],
    SB["rank"],
)


def slide_models():
    """Models of the slide benchmarks: slide_bench.models, or the embed stage's (skip_unavailable)."""
    if SB["models"] is None:
        return embed_models()
    unknown = [m for m in SB["models"] if m not in REGISTRY]
    if unknown:
        raise ValueError(
            f"config slide_bench.models: {unknown} are not in config/models.yaml"
        )
    return list(SB["models"])


def demo_slide_ids(name):
    """Slide ids of a demo slide-task cohort (pathfm.demo_slide_tasks.cohort names them so)."""
    return [f"demo-slide-{i:03d}" for i in range(SB_COHORTS[name]["n_slides"])]


def slide_dataset_table_path(name):
    return f"results/slide_datasets/{name}/slides.tsv"


@functools.lru_cache(maxsize=None)
def _slide_dataset_rows(path, mtime_ns):
    # Read each table version once while the DAG is built, not once per job.
    with open(path) as f:
        rows = csv.DictReader(f, delimiter="\t")
        return {r["slide_id"]: r["path"] for r in rows}


def slide_dataset_shards(name):
    """The cohort's slides (table order) in runs of its slides_per_job (a checkpoint:
    input functions only)."""
    table = checkpoints.slide_dataset_table.get(name=name).output[0]
    n = SB_DATASETS[name]["slides_per_job"]
    return _slide_dataset_shards(table, os.stat(table).st_mtime_ns, n)


@functools.lru_cache(maxsize=None)
def _slide_dataset_shards(path, mtime_ns, n):
    ids = list(_slide_dataset_rows(path, mtime_ns))
    return tuple(tuple(ids[r.start : r.stop]) for r in shard_slices(len(ids), n))


def slide_dataset_embedding(model, name, shard):
    return (
        f"results/embeddings/{model}/slide_datasets/{name}/shard{int(shard):05d}.zarr"
    )


def slide_dataset_runtime(name):
    """Minutes of a tiling shard: per slide a mask, a grid and max_tiles tile reads
    (a minute, plus one per 2,000 tiles: Camelyon16 6, PANDA 2)."""
    spec = SB_DATASETS[name]
    return 15 + spec["slides_per_job"] * (1 + (spec["max_tiles"] + 1999) // 2000)


def slide_dataset_tiling(name):
    spec = SB_DATASETS[name]
    keys = ("mpp", "tile_px", "min_tissue")
    return {k: spec[k] for k in keys} | {"stride_px": spec["tile_px"]}


def slide_task_embeddings(model, spec):
    """Tile embedding stores of a task: one per demo cohort, one per shard of slides of a
    GDC or Camelyon16 / PANDA cohort (a 'group' array names each tile's slide)."""
    if spec.get("cohort"):
        return [f"results/embeddings/{model}/slide_tasks/{spec['cohort']}.zarr"]
    if spec.get("slide_dataset"):
        name = spec["slide_dataset"]
        return [
            slide_dataset_embedding(model, name, k)
            for k in range(len(slide_dataset_shards(name)))
        ]
    cohort, tiling = spec["gdc_cohort"], spec["tiling"]
    return [
        slide_shard_embedding(model, cohort, tiling, k)
        for k in range(len(slide_shards(cohort)))
    ]


def slide_shards(cohort):
    """The cohort's slides (manifest order) in runs of embed.slides_per_job."""
    ids, n = slide_ids(cohort), EMBED["slides_per_job"]
    return [ids[i : i + n] for i in range(0, len(ids), n)]


def slide_shard_embedding(model, cohort, tiling, k):
    return f"results/embeddings/{model}/tiles/{cohort}/{tiling}/shard{k:05d}.zarr"


def slide_task_inputs(spec):
    """A task's tables: the demo cohort folder, a dataset's slide table, or the GDC labels
    and slide manifest."""
    if spec.get("cohort"):
        return {"cohort": f"results/slide_tasks/{spec['cohort']}"}
    if spec.get("slide_dataset"):
        return {"table": slide_dataset_table_path(spec["slide_dataset"])}
    return {
        "labels": f"results/labels/{spec['labels']}.tsv",
        "slides": manifest_path(spec["gdc_cohort"]),
    }


def slide_task_table_args(input, table):
    """Script arguments naming the table: a file of the demo cohort folder, or labels + manifest."""
    if "cohort" in input.keys():
        return f"--table {input.cohort}/{table}"
    if "table" in input.keys():
        return f"--table {input.table}"
    return f"--table {input.labels} --slides {input.slides}"


def seg_inputs(task):
    spec = SB_SEG["tasks"][task]
    if spec.get("cohort"):
        return f"results/slide_tasks/{spec['cohort']}"
    return f"results/datasets/{spec['dataset']}"


def seg_args(task, folder):
    """segmentation_bench.py arguments naming a task's images: npz files per split or a public set."""
    spec = SB_SEG["tasks"][task]
    if spec.get("dataset"):
        return f"--source {spec['dataset']} --root {folder}"
    from pathfm.demo_slide_tasks import NUCLEUS_CLASSES

    # validate_config checked that the cohort has enough sections.
    ids, args, start = demo_slide_ids(spec["cohort"]), [], 0
    for split in ("train", "val", "test"):
        files = ids[start : start + spec[split]]
        start += spec[split]
        args.append(
            f"--{split} " + " ".join(f"{folder}/segmentation/{s}.npz" for s in files)
        )
    return " ".join(args) + " --classes " + " ".join(NUCLEUS_CLASSES)


def slide_bench_datasets():
    """Public sets the slide benchmarks read (segmentation sets, Camelyon16 / PANDA slides),
    checked by fetch_slide_bench_dataset (patch_bench fetches its own)."""
    names = {s["dataset"] for s in SB_SEG["tasks"].values() if s.get("dataset")}
    return sorted((names | set(SB_DATASETS)) - set(DATASETS))


def slide_bench_results():
    models = slide_models()
    out = [
        f"results/bench/slide_classification-{p}/{t}/{m}.json"
        for p in SB_CLS["protocols"]
        for t in SB_CLS["tasks"]
        for m in models
    ]
    out += [
        f"results/bench/survival-{h}/{t}/{m}.json"
        for h in SB_SURV["heads"]
        for t in SB_SURV["tasks"]
        for m in models
    ]
    out += [
        f"results/bench/retrieval-{p}/{t}/{m}.json"
        for p in SB_RET["protocols"]
        for t in SB_RET["tasks"]
        for m in models
    ]
    out += [
        f"results/bench/segmentation/{t}/{m}.json"
        for t in SB_SEG["tasks"]
        for m in models
    ]
    return out


def rank_inputs():
    """Result files of every (benchmark, task) the rank entries name, for every model."""
    pairs = dict.fromkeys((e["benchmark"], e["task"]) for e in SB_RANK["entries"])
    return [f"results/bench/{b}/{t}/{m}.json" for b, t in pairs for m in slide_models()]


def rank_outputs():
    name = SB_RANK["target"]
    return [f"results/tables/{name}.{x}" for x in ("csv", "md", "tex")] + [
        f"results/figures/{name}.{x}" for x in ("png", "svg")
    ]


def slide_bench_targets():
    out = slide_bench_results()
    if SB_RANK["entries"] and len(slide_models()) >= 2:
        out += rank_outputs()
    return out


ALL_TARGETS["slide_bench"] = slide_bench_targets
