# Patch-level benchmarks: task datasets (demo: rendered; paper: fetched), eva linear
# probing (both protocol versions), HEST regression, TP53 and unsupervised metrics.
# One result per (benchmark, task, model): pathfm.workflow.paths.bench_result.
include: "common.smk"


rule build_demo_dataset:
    output:
        directory(paths.dataset_dir("{dataset}")),
    log:
        "logs/build_demo_dataset/{dataset}.log",
    benchmark:
        "runtime/build_demo_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=wildcard_choice(PLAN.patch.datasets_of("demo")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        script=PLAN.script("build_demo_dataset.py"),
        kind=lambda w: PLAN.patch.dataset(w.dataset)["kind"],
        seed=lambda w: PLAN.patch.dataset(w.dataset)["seed"],
        extra=lambda w: as_json(PLAN.patch.dataset(w.dataset)["params"]),
    shell:
        "pathfm {params.script:q} --dataset {params.kind:q} --out {output:q} --seed {params.seed:q}"
        " --params {params.extra:q} > {log:q} 2>&1"


rule fetch_dataset:
    output:
        directory(paths.dataset_dir("{dataset}")),
    log:
        "logs/fetch_dataset/{dataset}.log",
    benchmark:
        "runtime/fetch_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=wildcard_choice(PLAN.patch.datasets_of("fetch")),
    retries: 2
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=600,
    params:
        script=PLAN.script("fetch_dataset.py"),
        kind=lambda w: PLAN.patch.dataset(w.dataset)["kind"],
        tasks=lambda w: PLAN.patch.fetch_tasks_argv(w.dataset),
        limits=PLAN.download_limits_argv(archives=True),
    shell:
        "pathfm {params.script:q} --dataset {params.kind:q} --root {output:q} {params.tasks:q}"
        " {params.limits:q} > {log:q} 2>&1"


rule linear_probe:
    input:
        paths.embeddings("{model}", "{task}"),
    output:
        PLAN.patch.lp_outputs(),
    log:
        "logs/linear_probe/{task}/{model}.log",
    benchmark:
        "runtime/linear_probe/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(PLAN.patch.lp["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        script=PLAN.script("linear_probe.py"),
        pairs=lambda w, output: PLAN.patch.lp_pairs_argv(list(output)),
        overrides=as_json(PLAN.patch.lp["overrides"]),
        overrides_name=PLAN.patch.lp["overrides_name"],
        seed=PLAN.patch.lp["seed"],
    shell:
        "pathfm {params.script:q} --embeddings {input:q} --task {wildcards.task:q} {params.pairs:q}"
        " --overrides {params.overrides:q} --overrides-name {params.overrides_name:q}"
        " --seed {params.seed:q} > {log:q} 2>&1"


rule hest_bench:
    input:
        store=lambda w: paths.embeddings(
            w.model, f"{PLAN.patch.hest_dataset()}-{w.task}"
        ),
        dataset=lambda w: paths.dataset_dir(PLAN.patch.hest_dataset()),
    output:
        paths.bench_result("hest-{pooling}", "{task}", "{model}"),
    log:
        "logs/hest_bench/{pooling}/{task}/{model}.log",
    benchmark:
        "runtime/hest_bench/{pooling}/{task}/{model}.tsv"
    wildcard_constraints:
        pooling=wildcard_choice(PLAN.patch.hest_slugs()),
        task=wildcard_choice(PLAN.patch.hest["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        script=PLAN.script("hest_bench.py"),
        pooling=lambda w: PLAN.patch.hest_pooling(w.pooling),
        options=PLAN.patch.hest_options_argv(),
    shell:
        "pathfm {params.script:q} --embeddings {input.store:q} --task-dir {input.dataset:q}/{wildcards.task:q}"
        " --pooling {params.pooling:q} {params.options:q} --benchmark hest-{wildcards.pooling:q}"
        " --out {output:q} > {log:q} 2>&1"


rule tp53_bench:
    input:
        paths.embeddings("{model}", "{task}"),
    output:
        paths.bench_result("tp53", "{task}", "{model}"),
    log:
        "logs/tp53_bench/{task}/{model}.log",
    benchmark:
        "runtime/tp53_bench/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(PLAN.patch.tp53["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        script=PLAN.script("tp53_bench.py"),
        protocol=PLAN.patch.tp53["protocol"],
        overrides=PLAN.patch.tp53_overrides(),
        name=PLAN.patch.tp53_overrides_name(),
        folds=PLAN.patch.tp53["folds"],
        seed=PLAN.patch.tp53["seed"],
    shell:
        "pathfm {params.script:q} --embeddings {input:q} --task {wildcards.task:q}"
        " --protocol {params.protocol:q} --overrides {params.overrides:q} --overrides-name {params.name:q}"
        " --folds {params.folds:q} --seed {params.seed:q} --out {output:q} > {log:q} 2>&1"


rule unsupervised_metrics:
    input:
        paths.embeddings("{model}", "{task}"),
    output:
        paths.bench_result("unsupervised", "{task}", "{model}"),
    log:
        "logs/unsupervised_metrics/{task}/{model}.log",
    benchmark:
        "runtime/unsupervised_metrics/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(PLAN.patch.uns["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        script=PLAN.script("unsupervised_metrics.py"),
        max_samples=PLAN.patch.uns["max_samples"],
        seed=PLAN.patch.uns["seed"],
    shell:
        "pathfm {params.script:q} --embeddings {input:q} --task {wildcards.task:q}"
        " --max-samples {params.max_samples:q} --seed {params.seed:q} --out {output:q} > {log:q} 2>&1"
