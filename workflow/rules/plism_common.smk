# PLISM input functions and config checks (included by plism.smk; no rules here).
# Model helpers (REGISTRY, EMBED, model_weights, weights_available) come from
# patch_bench_common.smk, included by embed.smk before this file.
PLISM = config["plism"]
PLISM_SETS = PLISM["sets"]


def plism_sets(*sources):
    return [n for n, s in PLISM_SETS.items() if not sources or s["source"] in sources]


def plism_slides(plism_set):
    """Slide ids {staining}_{scanner}, staining-major (the order pairs are listed in)."""
    spec = PLISM_SETS[plism_set]
    return [f"{st}_{sc}" for st in spec["stainings"] for sc in spec["scanners"]]


def plism_slide_path(plism_set, slide_id):
    spec = PLISM_SETS[plism_set]
    if spec["source"] == "raw":
        return f"{spec['raw_dir']}/{slide_id}.{spec['raw_ext']}"
    return f"results/plism/{plism_set}/slides/{slide_id}.svs"


def plism_slide_inputs(plism_set, slide_ids):
    """Files a job reading these slides depends on: the rendered folder of a synthetic set
    (one job makes every slide), the published WSIs of a raw set."""
    if PLISM_SETS[plism_set]["source"] == "synthetic":
        return [f"results/plism/{plism_set}/slides"]
    return [plism_slide_path(plism_set, s) for s in slide_ids]


def plism_hub_file(plism_set, slide_id):
    return f"results/plism/{plism_set}/hub/{slide_id}_to_GMH_S60.tif.h5"


def plism_models():
    models = PLISM["models"]
    unknown = [m for m in models if m not in REGISTRY]
    if unknown:
        raise ValueError(
            f"config plism.models: {unknown} are not in config/models.yaml"
        )
    if PLISM["skip_unavailable"]:
        return [m for m in models if weights_available(m)]
    return list(models)


def plism_tiles_dir(plism_set):
    return f"results/plism/{plism_set}/tiles"


def plism_embeddings_dir(model, plism_set):
    """One folder per (model, set) holding {slide_id}.zarr for every slide of the set."""
    return f"results/embeddings/{model}/plism/{plism_set}"


def plism_result(plism_set, model):
    return f"results/bench/plism/{plism_set}/{model}.json"


def plism_report_set():
    return PLISM["report_set"] or next(iter(PLISM_SETS))


def plism_tiling_json():
    keys = ("tile_px", "target_mpp", "min_tissue")
    return as_json({**{k: PLISM["tiling"][k] for k in keys}, "mask": config["mask"]})


def plism_metric_json():
    keys = ("dtype", "top_k", "rank_rule", "chunk", "device")
    return as_json({k: PLISM["metrics"][k] for k in keys})


def plism_report_inputs():
    return [plism_result(plism_report_set(), m) for m in plism_models()]


def all_plism():
    if not PLISM_SETS or not plism_models():
        return []
    per_set = [plism_result(n, m) for n in PLISM_SETS for m in plism_models()]
    qc = [
        f"results/plism/{n}/transforms/{s}.json"
        for n in plism_sets("synthetic", "raw")
        for s in plism_slides(n)
    ]
    return per_set + qc + list(rules.plism_report.output)


ALL_TARGETS["plism"] = all_plism
