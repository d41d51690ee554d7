# Embedding extraction: one job per (model, dataset) -> results/embeddings/{model}/{dataset}.zarr.
# `embed` is the template of every embedding job: the PLISM, slide-task, GDC-shard and
# Camelyon16 / PANDA embedding rules are `use rule embed as … with:` and change only
# what they read and write. Hub weights are fetched and converted by fetch_weights.
include: "common.smk"


from pathfm.launch import command_argv


rule embed:
    input:
        dataset=lambda w: paths.dataset_dir(
            PLAN.patch.embedding_spec(w.dataset)["folder"]
        ),
        weights=lambda w: PLAN.models.weights(w.model),
    output:
        store=directory(paths.embeddings("{model}", "{dataset}")),
    log:
        "logs/embed/{model}/{dataset}.log",
    benchmark:
        "runtime/embed/{model}/{dataset}.tsv"
    wildcard_constraints:
        model="[^/]+",
        dataset="[^/]+",
    conda:
        CONDA_ENV
    threads: max(1, config["embed"]["workers"])
    resources:
        mem_mb=config["embed"]["mem_mb"],
        runtime=config["embed"]["runtime"],
        gpu=config["embed"]["gpu"],
    params:
        script=PLAN.script("embed.py"),
        # One process (no data parallelism): one GPU, one node at most.
        launcher=lambda w, resources: command_argv(min(int(resources.gpu), 1), 1),
        weights=lambda w: PLAN.models.weights_argv(w.model),
        source=lambda w, input: PLAN.patch.embed_source_argv(w.dataset, input.dataset),
        destination=lambda w, output: [
            "--dataset-name",
            w.dataset,
            "--out",
            output.store,
        ],
        settings=PLAN.patch.embed_settings_argv(),
    shell:
        "{params.launcher:q} {params.script:q} --model {wildcards.model:q} {params.weights:q}"
        " {params.source:q} {params.destination:q} {params.settings:q} > {log:q} 2>&1"


# PLISM: every slide of a set, one store per slide in the set's folder.
use rule embed as embed_plism with:
    input:
        tiles=lambda w: paths.plism_tiles(w.plism_set),
        weights=lambda w: PLAN.models.weights(w.model),
    output:
        store=directory(paths.plism_embeddings("{model}", "{plism_set}")),
    log:
        "logs/embed_plism/{model}/{plism_set}.log",
    benchmark:
        "runtime/embed_plism/{model}/{plism_set}.tsv"
    wildcard_constraints:
        model="[^/]+",
        plism_set=wildcard_choice(PLAN.plism.set_names()),
    params:
        script=PLAN.script("embed_plism.py"),
        source=lambda w, input: [
            "--plism-set",
            w.plism_set,
            "--tiles",
            *PLAN.plism.per_slide_argv(w.plism_set, input.tiles),
        ],
        destination=lambda w, output: ["--out-dir", output.store],


# The tiles of a whole demo cohort in one store ('group' = slide id): one job per model.
use rule embed as embed_slide_tasks with:
    input:
        cohort=paths.slide_task_dir("{name}"),
        weights=lambda w: PLAN.models.weights(w.model),
    output:
        store=directory(paths.slide_task_embeddings("{model}", "{name}")),
    log:
        "logs/embed_slide_tasks/{model}/{name}.log",
    benchmark:
        "runtime/embed_slide_tasks/{model}/{name}.tsv"
    wildcard_constraints:
        model="[^/]+",
        name=wildcard_choice(PLAN.slides.demo_cohorts),
    params:
        source=lambda w, input: [
            "--kind",
            "tiles",
            "--tiles",
            *PLAN.slides.demo_tile_stores_argv(w.name, input.cohort),
        ],
        destination=lambda w, output: [
            "--dataset-name",
            f"slide_tasks/{w.name}",
            "--out",
            output.store,
        ],


# A GDC cohort's tile stores, one slide per job (thousands of slides: cached and resumed
# slide by slide).
use rule embed as embed_slide_tiles with:
    input:
        # Per-slide stores, or the tile shard markers holding them (then the stores are
        # named in params: a marker may hold slides of the next embedding shard too).
        tiles=lambda w: PLAN.slides.cohort_shard_tiles(w.cohort, w.tiling, w.shard),
        weights=lambda w: PLAN.models.weights(w.model),
    output:
        store=directory(
            paths.cohort_shard_embedding("{model}", "{cohort}", "{tiling}", "{shard}")
        ),
    log:
        "logs/embed_slide_tiles/{model}/{cohort}/{tiling}/shard{shard}.log",
    benchmark:
        "runtime/embed_slide_tiles/{model}/{cohort}/{tiling}/shard{shard}.tsv"
    wildcard_constraints:
        model="[^/]+",
        cohort=wildcard_choice(PLAN.cohorts.cohorts),
        tiling=wildcard_choice(PLAN.cohorts.tiling_params),
        shard=r"\d+",
    params:
        source=lambda w: [
            "--kind",
            "tiles",
            "--tiles",
            *PLAN.slides.cohort_shard_stores(w.cohort, w.tiling, w.shard),
        ],
        destination=lambda w, output: [
            "--dataset-name",
            f"tiles/{w.cohort}/{w.tiling}/shard{w.shard}",
            "--out",
            output.store,
        ],


# Camelyon16 / PANDA: one store per shard of the dataset's slide table.
use rule embed as embed_dataset_shard with:
    input:
        tiles=paths.slide_dataset_tiles("{name}", "{shard}"),
        weights=lambda w: PLAN.models.weights(w.model),
    output:
        store=directory(paths.slide_dataset_embedding("{model}", "{name}", "{shard}")),
    log:
        "logs/embed_dataset_shard/{model}/{name}/shard{shard}.log",
    benchmark:
        "runtime/embed_dataset_shard/{model}/{name}/shard{shard}.tsv"
    wildcard_constraints:
        model="[^/]+",
        name=wildcard_choice(PLAN.slides.datasets),
        shard=r"\d{5}",
    params:
        # The shard's stores in table order (the 'group' array follows it).
        source=lambda w, input: [
            "--kind",
            "tiles",
            "--tiles",
            *PLAN.slides.dataset_shard_stores(w.name, w.shard, input.tiles),
        ],
        destination=lambda w, output: [
            "--dataset-name",
            f"slide_datasets/{w.name}/shard{w.shard}",
            "--out",
            output.store,
        ],


# HF_TOKEN is optional (open models need none) and is read from the environment by
# huggingface_hub; envvars would make it mandatory, so it is not declared.
rule fetch_weights:
    output:
        weights=paths.model_weights("{model}"),
        record="results/models/{model}/fetch.json",
    log:
        "logs/fetch_weights/{model}.log",
    wildcard_constraints:
        model=wildcard_choice(PLAN.models.hub_models()),
    retries: 2
    conda:
        CONDA_ENV
    resources:
        mem_mb=16000,
        runtime=120,
        hub_downloads=1,
    params:
        fetch=PLAN.script("fetch_weights.py"),
        export=PLAN.script("export_hub_weights.py"),
        hub=lambda w: PLAN.models.hub_argv(w.model),
        hub_dir=lambda w: f"{paths.model_dir(w.model)}/hub",
    shell:
        "(pathfm {params.fetch:q} --model {wildcards.model:q} {params.hub:q}"
        " --out-dir {params.hub_dir:q} --record {output.record:q}"
        " && pathfm {params.export:q} --model {wildcards.model:q} --record {output.record:q}"
        " --out {output.weights:q}) > {log:q} 2>&1"
