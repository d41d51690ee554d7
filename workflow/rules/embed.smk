# Embedding extraction: one job per (model, dataset) -> results/embeddings/{model}/{dataset}.zarr.
# Hub weights are fetched and converted to timm-keyed safetensors by fetch_weights.
# The input functions (and those of bench_patch.smk) live in patch_bench_common.smk.


include: "patch_bench_common.smk"


from pathfm.launch import shell_prefix


rule embed:
    input:
        dataset=lambda w: f"results/datasets/{embedding_spec(w.dataset)['folder']}",
        weights=lambda w: model_weights(w.model),
    output:
        store=directory("results/embeddings/{model}/{dataset}.zarr"),
    log:
        "logs/embed/{model}/{dataset}.log",
    benchmark:
        "runtime/embed/{model}/{dataset}.tsv"
    wildcard_constraints:
        model="[^/]+",
        dataset="[^/]+",
    conda:
        CONDA_ENV
    threads: max(1, EMBED["workers"])
    resources:
        mem_mb=EMBED["mem_mb"],
        runtime=EMBED["runtime"],
        gpu=EMBED["gpu"],
    params:
        script=script("embed.py"),
        # embed.py is one process (no data parallelism): one GPU, one node at most.
        launcher=lambda w, resources: shell_prefix(
            script("launch.py"), min(int(resources.gpu), 1), 1
        ),
        kind=lambda w: embedding_spec(w.dataset)["kind"],
        task=lambda w: embedding_spec(w.dataset)["task_args"],
        weights=lambda w: (
            f"--weights {model_weights(w.model)[0]}" if model_weights(w.model) else ""
        ),
        poolings=lambda w: embedding_spec(w.dataset)["poolings_args"],
        dtype=EMBED["dtype"],
        batch=EMBED["batch_size"],
        workers=EMBED["workers"],
        shard=EMBED["shard_size"],
        autocast=EMBED["autocast"],
    shell:
        "{params.launcher} {params.script} --model {wildcards.model} {params.weights}"
        " --kind {params.kind} --root {input.dataset} {params.task} {params.poolings}"
        " --dataset-name {wildcards.dataset} --out {output.store} --dtype {params.dtype}"
        " --batch-size {params.batch} --workers {params.workers} --shard-size {params.shard}"
        " --autocast {params.autocast} > {log} 2>&1"


# HF_TOKEN is optional (open models need none) and is read from the environment by
# huggingface_hub; envvars would make it mandatory, so it is not declared.
rule fetch_weights:
    output:
        weights="results/models/{model}/weights.safetensors",
        record="results/models/{model}/fetch.json",
    log:
        "logs/fetch_weights/{model}.log",
    wildcard_constraints:
        model=wildcard_choice(hub_models()),
    retries: 2
    conda:
        CONDA_ENV
    resources:
        mem_mb=16000,
        runtime=120,
        hub_downloads=1,
    params:
        fetch=script("fetch_weights.py"),
        export=script("export_hub_weights.py"),
        hub=lambda w: hub_args(w.model),
    shell:
        "(python {params.fetch} --model {wildcards.model} {params.hub}"
        " --out-dir results/models/{wildcards.model}/hub --record {output.record}"
        " && python {params.export} --model {wildcards.model} --record {output.record}"
        " --out {output.weights}) > {log} 2>&1"
