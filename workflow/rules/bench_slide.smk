# Slide-level and GPFM benchmark families: slide classification (ABMIL, eva / GPFM
# protocols), survival (ABMIL-Cox, mean-pooled CoxPH), ROI retrieval (GPFM, plain),
# nucleus segmentation (frozen backbone + eva decoder) and GPFM's average-rank table.
# One result per (benchmark, task, model): results/bench/{benchmark}/{task}/{model}.json.
include: "bench_slide_common.smk"
include: "bench_slide_datasets.smk"


rule build_slide_tasks:
    output:
        directory("results/slide_tasks/{name}"),
    log:
        "logs/build_slide_tasks/{name}.log",
    benchmark:
        "runtime/build_slide_tasks/{name}.tsv"
    wildcard_constraints:
        name=wildcard_choice(list(SB_COHORTS)),
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=15,
    params:
        script=script("build_slide_tasks.py"),
        n_slides=lambda w: SB_COHORTS[w.name]["n_slides"],
        seed=lambda w: SB_COHORTS[w.name]["seed"],
        mpp=lambda w: SB_COHORTS[w.name]["mpp"],
        size_um=lambda w: SB_COHORTS[w.name]["size_um"],
        tile_px=lambda w: SB_COHORTS[w.name]["tile_px"],
    shell:
        "python {params.script} --out {output} --n-slides {params.n_slides} --seed {params.seed}"
        " --mpp {params.mpp} --size-um {params.size_um} --tile-px {params.tile_px} > {log} 2>&1"


# The tiles of a whole demo cohort in one store ('group' = slide id): one job per model.
rule embed_slide_tasks:
    input:
        cohort="results/slide_tasks/{name}",
        weights=lambda w: model_weights(w.model),
    output:
        store=directory("results/embeddings/{model}/slide_tasks/{name}.zarr"),
    log:
        "logs/embed_slide_tasks/{model}/{name}.log",
    benchmark:
        "runtime/embed_slide_tasks/{model}/{name}.tsv"
    wildcard_constraints:
        model="[^/]+",
        name=wildcard_choice(list(SB_COHORTS)),
    conda:
        CONDA_ENV
    threads: max(1, EMBED["workers"])
    resources:
        mem_mb=EMBED["mem_mb"],
        runtime=EMBED["runtime"],
        gpu=EMBED["gpu"],
    params:
        script=script("embed.py"),
        stores=lambda w, input: " ".join(
            f"{input.cohort}/tiles/{s}.zarr" for s in demo_slide_ids(w.name)
        ),
        weights=lambda w: (
            f"--weights {model_weights(w.model)[0]}" if model_weights(w.model) else ""
        ),
        dtype=EMBED["dtype"],
        batch=EMBED["batch_size"],
        workers=EMBED["workers"],
        shard=EMBED["shard_size"],
        autocast=EMBED["autocast"],
    shell:
        "python {params.script} --model {wildcards.model} {params.weights} --kind tiles"
        " --tiles {params.stores} --dataset-name slide_tasks/{wildcards.name} --out {output.store}"
        " --dtype {params.dtype} --batch-size {params.batch} --workers {params.workers}"
        " --shard-size {params.shard} --autocast {params.autocast} > {log} 2>&1"


# A GDC cohort's tile stores, one slide per job (thousands of slides: cached and resumed
# slide by slide).
rule embed_slide_tiles:
    input:
        # Per-slide stores, or the tile shard markers holding them (then the stores are
        # named in params: a marker may hold slides of the next embedding shard too).
        tiles=lambda w: slide_files(
            w.cohort, "tiles", slide_shards(w.cohort)[int(w.shard)], tiling=w.tiling
        ),
        weights=lambda w: model_weights(w.model),
    output:
        store=directory(
            "results/embeddings/{model}/tiles/{cohort}/{tiling}/shard{shard}.zarr"
        ),
    log:
        "logs/embed_slide_tiles/{model}/{cohort}/{tiling}/shard{shard}.log",
    benchmark:
        "runtime/embed_slide_tiles/{model}/{cohort}/{tiling}/shard{shard}.tsv"
    wildcard_constraints:
        model="[^/]+",
        cohort=wildcard_choice(list(COHORTS)),
        tiling=wildcard_choice(list(TILINGS)),
        shard=r"\d+",
    conda:
        CONDA_ENV
    threads: max(1, EMBED["workers"])
    resources:
        mem_mb=EMBED["mem_mb"],
        runtime=EMBED["runtime"],
        gpu=EMBED["gpu"],
    params:
        script=script("embed.py"),
        launcher=lambda w, resources: shell_prefix(
            script("launch.py"), min(int(resources.gpu), 1), 1
        ),
        weights=lambda w: (
            f"--weights {model_weights(w.model)[0]}" if model_weights(w.model) else ""
        ),
        dataset=lambda w: f"tiles/{w.cohort}/{w.tiling}/shard{w.shard}",
        stores=lambda w: [
            tile_store_path(w.cohort, w.tiling, s)
            for s in slide_shards(w.cohort)[int(w.shard)]
        ],
        dtype=EMBED["dtype"],
        batch=EMBED["batch_size"],
        workers=EMBED["workers"],
        shard=EMBED["shard_size"],
        autocast=EMBED["autocast"],
    shell:
        "{params.launcher} {params.script} --model {wildcards.model} {params.weights}"
        " --kind tiles --tiles {params.stores} --dataset-name {params.dataset}"
        " --out {output.store} --dtype {params.dtype} --batch-size {params.batch}"
        " --workers {params.workers} --shard-size {params.shard}"
        " --autocast {params.autocast} > {log} 2>&1"


rule slide_classification:
    input:
        unpack(lambda w: slide_task_inputs(SB_CLS["tasks"][w.task])),
        features=lambda w: slide_task_embeddings(w.model, SB_CLS["tasks"][w.task]),
    output:
        "results/bench/slide_classification-{protocol}/{task}/{model}.json",
    log:
        "logs/slide_classification/{protocol}/{task}/{model}.log",
    benchmark:
        "runtime/slide_classification/{protocol}/{task}/{model}.tsv"
    wildcard_constraints:
        protocol=wildcard_choice(SB_CLS["protocols"]),
        task=wildcard_choice(list(SB_CLS["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        script=script("slide_bench.py"),
        table=lambda w, input: slide_task_table_args(input, "labels.tsv"),
        label=lambda w: SB_CLS["tasks"][w.task]["label"],
        seeds=" ".join(map(str, SB_CLS["seeds"])),
        max_tiles=SB_CLS["max_tiles"],
        max_epochs=SB_CLS["max_epochs"],
        patience=SB_CLS["patience"],
        batch=SB_CLS["batch_size"],
        name=SB_CLS["overrides_name"],
    shell:
        "python {params.script} --features {input.features} {params.table}"
        " --label {params.label} --protocol {wildcards.protocol} --seeds {params.seeds}"
        " --max-tiles {params.max_tiles} --max-epochs {params.max_epochs} --patience {params.patience}"
        " --batch-size {params.batch}"
        " --overrides-name {params.name} --task {wildcards.task} --model {wildcards.model}"
        " --out {output} > {log} 2>&1"


rule survival_bench:
    input:
        unpack(lambda w: slide_task_inputs(SB_SURV["tasks"][w.task])),
        features=lambda w: slide_task_embeddings(w.model, SB_SURV["tasks"][w.task]),
    output:
        "results/bench/survival-{head}/{task}/{model}.json",
    log:
        "logs/survival_bench/{head}/{task}/{model}.log",
    benchmark:
        "runtime/survival_bench/{head}/{task}/{model}.tsv"
    wildcard_constraints:
        head=wildcard_choice(SB_SURV["heads"]),
        task=wildcard_choice(list(SB_SURV["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        script=script("survival_bench.py"),
        table=lambda w, input: slide_task_table_args(input, "labels.tsv"),
        seed=SB_SURV["seed"],
        max_epochs=SB_SURV["max_epochs"],
        alphas=" ".join(str(a) for a in SB_SURV["coxph_alphas"]),
        name=SB_SURV["overrides_name"],
    shell:
        "python {params.script} --features {input.features} {params.table}"
        " --head {wildcards.head} --seed {params.seed} --max-epochs {params.max_epochs}"
        " --coxph-alphas {params.alphas}"
        " --overrides-name {params.name} --task {wildcards.task} --model {wildcards.model}"
        " --out {output} > {log} 2>&1"


rule retrieval_bench:
    input:
        unpack(lambda w: slide_task_inputs(SB_RET["tasks"][w.task])),
        features=lambda w: slide_task_embeddings(w.model, SB_RET["tasks"][w.task]),
    output:
        "results/bench/retrieval-{protocol}/{task}/{model}.json",
    log:
        "logs/retrieval_bench/{protocol}/{task}/{model}.log",
    benchmark:
        "runtime/retrieval_bench/{protocol}/{task}/{model}.tsv"
    wildcard_constraints:
        protocol=wildcard_choice(SB_RET["protocols"]),
        task=wildcard_choice(list(SB_RET["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        script=script("retrieval_bench.py"),
        table=lambda w, input: slide_task_table_args(input, "retrieval.tsv"),
        n_bootstrap=SB_RET["n_bootstrap"],
        seed=SB_RET["seed"],
    shell:
        "python {params.script} --features {input.features} {params.table}"
        " --protocol {wildcards.protocol} --n-bootstrap {params.n_bootstrap} --seed {params.seed}"
        " --task {wildcards.task} --model {wildcards.model} --out {output} > {log} 2>&1"


# Segmentation needs the backbone itself (patch-token maps), not stored embeddings.
rule segmentation_bench:
    input:
        images=lambda w: seg_inputs(w.task),
        weights=lambda w: model_weights(w.model),
    output:
        "results/bench/segmentation/{task}/{model}.json",
    log:
        "logs/segmentation_bench/{task}/{model}.log",
    benchmark:
        "runtime/segmentation_bench/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(list(SB_SEG["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=SB_SEG["gpu"],
    params:
        script=script("segmentation_bench.py"),
        images=lambda w, input: seg_args(w.task, input.images),
        weights=lambda w: (
            f"--weights {model_weights(w.model)[0]}" if model_weights(w.model) else ""
        ),
        seeds=" ".join(map(str, SB_SEG["seeds"])),
        max_steps=SB_SEG["max_steps"],
        eval_every=SB_SEG["eval_every"],
        batch=SB_SEG["batch_size"],
        name=SB_SEG["overrides_name"],
    shell:
        "python {params.script} {params.images} --model {wildcards.model} {params.weights}"
        " --seeds {params.seeds} --max-steps {params.max_steps} --eval-every {params.eval_every}"
        " --batch-size {params.batch}"
        " --overrides-name {params.name} --task {wildcards.task} --out {output} > {log} 2>&1"


# CoNSeP, MoNuSAC, Camelyon16 and PANDA sit behind forms or logins: the script fetches
# what is public (PANDA's label file), checks the layout a user unpacked into the folder
# and says where to get the files when they are missing.
rule fetch_slide_bench_dataset:
    output:
        directory("results/datasets/{dataset}"),
    log:
        "logs/fetch_slide_bench_dataset/{dataset}.log",
    benchmark:
        "runtime/fetch_slide_bench_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=wildcard_choice(slide_bench_datasets()),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        script=script("fetch_dataset.py"),
    shell:
        "python {params.script} --dataset {wildcards.dataset} --root {output} > {log} 2>&1"


rule rank_models:
    input:
        results=lambda w: rank_inputs(),
    output:
        table=multiext(f"results/tables/{SB_RANK['target']}", ".csv", ".md", ".tex"),
        figures=[
            report(
                f"results/figures/{SB_RANK['target']}.png",
                caption="../report/gpfm_rank_cd.rst",
                category="gpfm",
                subcategory="figures",
            ),
            f"results/figures/{SB_RANK['target']}.svg",
        ],
    log:
        f"logs/rank_models/{SB_RANK['target']}.log",
    benchmark:
        f"runtime/rank_models/{SB_RANK['target']}.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script("rank_models.py"),
        entries=" ".join(
            f"--entry {e['benchmark']}/{e['task']}/{e['metric']}"
            for e in SB_RANK["entries"]
        ),
        reference=(
            f"--reference {SB_RANK['reference']}" if SB_RANK["reference"] else ""
        ),
        alpha=SB_RANK["alpha"],
        stem=lambda w, output: output.table[0][: -len(".csv")],
    shell:
        "python {params.script} --results {input.results} {params.entries} {params.reference}"
        " --alpha {params.alpha} --table {params.stem} --figures {output.figures}"
        " > {log} 2>&1"


rule gpfm_rank_cd:
    input:
        rules.rank_models.output,
