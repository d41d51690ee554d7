# Slide-level and GPFM benchmark families: slide classification (ABMIL, eva / GPFM
# protocols), survival (ABMIL-Cox, mean-pooled CoxPH), ROI retrieval (GPFM, plain),
# nucleus segmentation (frozen backbone + eva decoder) and GPFM's average-rank table.
# One result per (benchmark, task, model): results/bench/{benchmark}/{task}/{model}.json.
include: "common.smk"


rule build_slide_tasks:
    output:
        directory(paths.slide_task_dir("{name}")),
    log:
        "logs/build_slide_tasks/{name}.log",
    benchmark:
        "runtime/build_slide_tasks/{name}.tsv"
    wildcard_constraints:
        name=wildcard_choice(PLAN.slides.demo_cohorts),
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=15,
    params:
        script=PLAN.script("build_slide_tasks.py"),
        n_slides=lambda w: PLAN.slides.demo_cohorts[w.name]["n_slides"],
        seed=lambda w: PLAN.slides.demo_cohorts[w.name]["seed"],
        mpp=lambda w: PLAN.slides.demo_cohorts[w.name]["mpp"],
        size_um=lambda w: PLAN.slides.demo_cohorts[w.name]["size_um"],
        tile_px=lambda w: PLAN.slides.demo_cohorts[w.name]["tile_px"],
    shell:
        "pathfm {params.script:q} --out {output:q} --n-slides {params.n_slides:q} --seed {params.seed:q}"
        " --mpp {params.mpp:q} --size-um {params.size_um:q} --tile-px {params.tile_px:q} > {log:q} 2>&1"


rule slide_classification:
    input:
        unpack(lambda w: PLAN.slides.task_inputs("classification", w.task)),
        features=lambda w: PLAN.slides.task_embeddings(
            w.model, "classification", w.task
        ),
    output:
        paths.bench_result("slide_classification-{protocol}", "{task}", "{model}"),
    log:
        "logs/slide_classification/{protocol}/{task}/{model}.log",
    benchmark:
        "runtime/slide_classification/{protocol}/{task}/{model}.tsv"
    wildcard_constraints:
        protocol=wildcard_choice(config["slide_bench"]["classification"]["protocols"]),
        task=wildcard_choice(list(config["slide_bench"]["classification"]["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        script=PLAN.script("slide_bench.py"),
        table=lambda w, input: PLAN.slides.table_argv(input, "labels.tsv"),
        label=lambda w: config["slide_bench"]["classification"]["tasks"][w.task][
            "label"
        ],
        seeds=[str(s) for s in config["slide_bench"]["classification"]["seeds"]],
        max_tiles=config["slide_bench"]["classification"]["max_tiles"],
        max_epochs=config["slide_bench"]["classification"]["max_epochs"],
        patience=config["slide_bench"]["classification"]["patience"],
        batch=config["slide_bench"]["classification"]["batch_size"],
        name=config["slide_bench"]["classification"]["overrides_name"],
    shell:
        "pathfm {params.script:q} --features {input.features:q} {params.table:q}"
        " --label {params.label:q} --protocol {wildcards.protocol:q} --seeds {params.seeds:q}"
        " --max-tiles {params.max_tiles:q} --max-epochs {params.max_epochs:q} --patience {params.patience:q}"
        " --batch-size {params.batch:q}"
        " --overrides-name {params.name:q} --task {wildcards.task:q} --model {wildcards.model:q}"
        " --out {output:q} > {log:q} 2>&1"


rule survival_bench:
    input:
        unpack(lambda w: PLAN.slides.task_inputs("survival", w.task)),
        features=lambda w: PLAN.slides.task_embeddings(w.model, "survival", w.task),
    output:
        paths.bench_result("survival-{head}", "{task}", "{model}"),
    log:
        "logs/survival_bench/{head}/{task}/{model}.log",
    benchmark:
        "runtime/survival_bench/{head}/{task}/{model}.tsv"
    wildcard_constraints:
        head=wildcard_choice(config["slide_bench"]["survival"]["heads"]),
        task=wildcard_choice(list(config["slide_bench"]["survival"]["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        script=PLAN.script("survival_bench.py"),
        table=lambda w, input: PLAN.slides.table_argv(input, "labels.tsv"),
        seed=config["slide_bench"]["survival"]["seed"],
        max_epochs=config["slide_bench"]["survival"]["max_epochs"],
        alphas=[str(a) for a in config["slide_bench"]["survival"]["coxph_alphas"]],
        name=config["slide_bench"]["survival"]["overrides_name"],
    shell:
        "pathfm {params.script:q} --features {input.features:q} {params.table:q}"
        " --head {wildcards.head:q} --seed {params.seed:q} --max-epochs {params.max_epochs:q}"
        " --coxph-alphas {params.alphas:q}"
        " --overrides-name {params.name:q} --task {wildcards.task:q} --model {wildcards.model:q}"
        " --out {output:q} > {log:q} 2>&1"


rule retrieval_bench:
    input:
        unpack(lambda w: PLAN.slides.task_inputs("retrieval", w.task)),
        features=lambda w: PLAN.slides.task_embeddings(w.model, "retrieval", w.task),
    output:
        paths.bench_result("retrieval-{protocol}", "{task}", "{model}"),
    log:
        "logs/retrieval_bench/{protocol}/{task}/{model}.log",
    benchmark:
        "runtime/retrieval_bench/{protocol}/{task}/{model}.tsv"
    wildcard_constraints:
        protocol=wildcard_choice(config["slide_bench"]["retrieval"]["protocols"]),
        task=wildcard_choice(list(config["slide_bench"]["retrieval"]["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        script=PLAN.script("retrieval_bench.py"),
        table=lambda w, input: PLAN.slides.table_argv(input, "retrieval.tsv"),
        n_bootstrap=config["slide_bench"]["retrieval"]["n_bootstrap"],
        seed=config["slide_bench"]["retrieval"]["seed"],
    shell:
        "pathfm {params.script:q} --features {input.features:q} {params.table:q}"
        " --protocol {wildcards.protocol:q} --n-bootstrap {params.n_bootstrap:q} --seed {params.seed:q}"
        " --task {wildcards.task:q} --model {wildcards.model:q} --out {output:q} > {log:q} 2>&1"


# Segmentation needs the backbone itself (patch-token maps), not stored embeddings.
rule segmentation_bench:
    input:
        images=lambda w: PLAN.slides.seg_images(w.task),
        weights=lambda w: PLAN.models.weights(w.model),
    output:
        paths.bench_result("segmentation", "{task}", "{model}"),
    log:
        "logs/segmentation_bench/{task}/{model}.log",
    benchmark:
        "runtime/segmentation_bench/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(list(config["slide_bench"]["segmentation"]["tasks"])),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=config["slide_bench"]["segmentation"]["gpu"],
    params:
        script=PLAN.script("segmentation_bench.py"),
        images=lambda w, input: PLAN.slides.seg_argv(w.task, input.images),
        weights=lambda w: PLAN.models.weights_argv(w.model),
        seeds=[str(s) for s in config["slide_bench"]["segmentation"]["seeds"]],
        max_steps=config["slide_bench"]["segmentation"]["max_steps"],
        eval_every=config["slide_bench"]["segmentation"]["eval_every"],
        batch=config["slide_bench"]["segmentation"]["batch_size"],
        name=config["slide_bench"]["segmentation"]["overrides_name"],
    shell:
        "pathfm {params.script:q} {params.images:q} --model {wildcards.model:q} {params.weights:q}"
        " --seeds {params.seeds:q} --max-steps {params.max_steps:q} --eval-every {params.eval_every:q}"
        " --batch-size {params.batch:q}"
        " --overrides-name {params.name:q} --task {wildcards.task:q} --out {output:q} > {log:q} 2>&1"


# CoNSeP, MoNuSAC, Camelyon16 and PANDA sit behind forms or logins: the script fetches
# what is public (PANDA's label file), checks the layout a user unpacked into the folder
# and says where to get the files when they are missing.
rule fetch_slide_bench_dataset:
    output:
        directory(paths.dataset_dir("{dataset}")),
    log:
        "logs/fetch_slide_bench_dataset/{dataset}.log",
    benchmark:
        "runtime/fetch_slide_bench_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=wildcard_choice(PLAN.slides.fetched_datasets()),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        script=PLAN.script("fetch_dataset.py"),
        limits=PLAN.download_limits_argv(archives=True),
    shell:
        "pathfm {params.script:q} --dataset {wildcards.dataset:q} --root {output:q}"
        " {params.limits:q} > {log:q} 2>&1"


rule rank_models:
    input:
        results=lambda w: PLAN.slides.rank_inputs(),
    output:
        table=paths.table_files(PLAN.slides.rank["target"]),
        figures=[
            report(
                paths.figure(PLAN.slides.rank["target"]),
                caption="../report/gpfm_rank_cd.rst",
                category="gpfm",
                subcategory="figures",
            ),
            paths.figure(PLAN.slides.rank["target"], ".svg"),
        ],
    log:
        f"logs/rank_models/{PLAN.slides.rank['target']}.log",
    benchmark:
        f"runtime/rank_models/{PLAN.slides.rank['target']}.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=PLAN.script("rank_models.py"),
        entries=PLAN.slides.rank_entries_argv(),
        reference=PLAN.slides.rank_reference_argv(),
        alpha=PLAN.slides.rank["alpha"],
        stem=lambda w, output: output.table[0][: -len(".csv")],
    shell:
        "pathfm {params.script:q} --results {input.results:q} {params.entries:q} {params.reference:q}"
        " --alpha {params.alpha:q} --table {params.stem:q} --figures {output.figures:q}"
        " > {log:q} 2>&1"


rule gpfm_rank_cd:
    input:
        rules.rank_models.output,
