# Input functions and targets of the embed and patch_bench stages (no rules here).
from pathfm.workflow.models import model_registry

# Registry models and training runs (derived sweep runs included).
REGISTRY = model_registry(config)
EMBED = config["embed"]


def model_weights(model):
    """The weights file a model's embedding job needs ([] for random init)."""
    entry = REGISTRY[model]
    return [] if entry.weights.source == "random" else [entry.weights.path]


def weights_available(model):
    """True when the weights exist or some rule of this workflow produces them."""
    paths = model_weights(model)
    return all(
        Path(p).exists() or any(r.is_producer(p) for r in workflow.rules) for p in paths
    )


def embed_models():
    """Configured models; with skip_unavailable, those whose weights nothing can make are left out."""
    models = EMBED["models"]
    unknown = [m for m in models if m not in REGISTRY]
    if unknown:
        raise ValueError(
            f"config embed.models: {unknown} are not in config/models.yaml"
        )
    if EMBED["skip_unavailable"]:
        return [m for m in models if weights_available(m)]
    return list(models)


def hub_args(model):
    w = REGISTRY[model].weights
    args = ["--hub-id", w.hub_id] + (["--filename", w.hub_file] if w.hub_file else [])
    return " ".join(shlex.quote(a) for a in args)


def hub_models():
    return [m for m, e in REGISTRY.items() if e.weights.source == "hub"]


PB = config["patch_bench"]
DATASETS = PB["datasets"]


def datasets_of(origin):
    return [name for name, spec in DATASETS.items() if spec["origin"] == origin]


def embedding_spec(name):
    """Embedding dataset name -> dataset folder, kind and the embed.py task/pooling arguments.

    EVA sets and TP53 embed under their dataset name; HEST tasks as hest-{task}, with
    the extra poolings the HEST benchmark compares (CLS alone, CLS + mean patch tokens).
    """
    if name in DATASETS and DATASETS[name]["kind"] != "hest":
        return {
            "folder": name,
            "kind": DATASETS[name]["kind"],
            "task_args": "",
            "poolings_args": "",
        }
    folder, _, task = name.partition("-")
    if folder in DATASETS and DATASETS[folder]["kind"] == "hest" and task:
        poolings = " ".join(shlex.quote(p) for p in PB["hest"]["poolings"])
        return {
            "folder": folder,
            "kind": "hest",
            "task_args": f"--task {shlex.quote(task)}",
            "poolings_args": f"--extra-poolings {poolings}",
        }
    raise ValueError(
        f"no dataset in config patch_bench.datasets makes embeddings {name!r}"
    )


def embeddings(model, name):
    return f"results/embeddings/{model}/{name}.zarr"


def pooling_slug(pooling):
    return pooling.replace("+", "_")


def hest_dataset():
    names = [n for n, s in DATASETS.items() if s["kind"] == "hest"]
    return names[0] if names else None


def patch_bench_targets():
    models = embed_models()
    lp, hest, tp53, uns = PB["linear_probe"], PB["hest"], PB["tp53"], PB["unsupervised"]
    out = [
        f"results/bench/linear_probe-{p}/{t}/{m}.json"
        for p in lp["protocols"]
        for t in lp["tasks"]
        for m in models
    ]
    out += [
        f"results/bench/hest-{pooling_slug(p)}/{t}/{m}.json"
        for p in hest["poolings"]
        for t in hest["tasks"]
        for m in models
    ]
    out += [f"results/bench/tp53/{t}/{m}.json" for t in tp53["tasks"] for m in models]
    out += [
        f"results/bench/unsupervised/{t}/{m}.json" for t in uns["tasks"] for m in models
    ]
    return out


ALL_TARGETS["patch_bench"] = patch_bench_targets
