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
        "pathfm {params.script} --out {output} --n-slides {params.n_slides} --seed {params.seed}"
        " --mpp {params.mpp} --size-um {params.size_um} --tile-px {params.tile_px} > {log} 2>&1"


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
        table=lambda w, input: PLAN.slides.table_args(input, "labels.tsv"),
        label=lambda w: config["slide_bench"]["classification"]["tasks"][w.task][
            "label"
        ],
        seeds=" ".join(map(str, config["slide_bench"]["classification"]["seeds"])),
        max_tiles=config["slide_bench"]["classification"]["max_tiles"],
        max_epochs=config["slide_bench"]["classification"]["max_epochs"],
        patience=config["slide_bench"]["classification"]["patience"],
        batch=config["slide_bench"]["classification"]["batch_size"],
        name=config["slide_bench"]["classification"]["overrides_name"],
    shell:
        "pathfm {params.script} --features {input.features} {params.table}"
        " --label {params.label} --protocol {wildcards.protocol} --seeds {params.seeds}"
        " --max-tiles {params.max_tiles} --max-epochs {params.max_epochs} --patience {params.patience}"
        " --batch-size {params.batch}"
        " --overrides-name {params.name} --task {wildcards.task} --model {wildcards.model}"
        " --out {output} > {log} 2>&1"


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
        table=lambda w, input: PLAN.slides.table_args(input, "labels.tsv"),
        seed=config["slide_bench"]["survival"]["seed"],
        max_epochs=config["slide_bench"]["survival"]["max_epochs"],
        alphas=" ".join(
            str(a) for a in config["slide_bench"]["survival"]["coxph_alphas"]
        ),
        name=config["slide_bench"]["survival"]["overrides_name"],
    shell:
        "pathfm {params.script} --features {input.features} {params.table}"
        " --head {wildcards.head} --seed {params.seed} --max-epochs {params.max_epochs}"
        " --coxph-alphas {params.alphas}"
        " --overrides-name {params.name} --task {wildcards.task} --model {wildcards.model}"
        " --out {output} > {log} 2>&1"


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
        table=lambda w, input: PLAN.slides.table_args(input, "retrieval.tsv"),
        n_bootstrap=config["slide_bench"]["retrieval"]["n_bootstrap"],
        seed=config["slide_bench"]["retrieval"]["seed"],
    shell:
        "pathfm {params.script} --features {input.features} {params.table}"
        " --protocol {wildcards.protocol} --n-bootstrap {params.n_bootstrap} --seed {params.seed}"
        " --task {wildcards.task} --model {wildcards.model} --out {output} > {log} 2>&1"


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
        images=lambda w, input: PLAN.slides.seg_args(w.task, input.images),
        weights=lambda w: PLAN.models.weights_arg(w.model),
        seeds=" ".join(map(str, config["slide_bench"]["segmentation"]["seeds"])),
        max_steps=config["slide_bench"]["segmentation"]["max_steps"],
        eval_every=config["slide_bench"]["segmentation"]["eval_every"],
        batch=config["slide_bench"]["segmentation"]["batch_size"],
        name=config["slide_bench"]["segmentation"]["overrides_name"],
    shell:
        "pathfm {params.script} {params.images} --model {wildcards.model} {params.weights}"
        " --seeds {params.seeds} --max-steps {params.max_steps} --eval-every {params.eval_every}"
        " --batch-size {params.batch}"
        " --overrides-name {params.name} --task {wildcards.task} --out {output} > {log} 2>&1"


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
    shell:
        "pathfm {params.script} --dataset {wildcards.dataset} --root {output} > {log} 2>&1"


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
        entries=PLAN.slides.rank_entries_args(),
        reference=PLAN.slides.rank_reference_arg(),
        alpha=PLAN.slides.rank["alpha"],
        stem=lambda w, output: output.table[0][: -len(".csv")],
    shell:
        "pathfm {params.script} --results {input.results} {params.entries} {params.reference}"
        " --alpha {params.alpha} --table {params.stem} --figures {output.figures}"
        " > {log} 2>&1"


rule gpfm_rank_cd:
    input:
        rules.rank_models.output,
