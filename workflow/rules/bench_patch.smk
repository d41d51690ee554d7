# Patch-level benchmarks: task datasets (demo: rendered; paper: fetched), eva linear
# probing (both protocol versions), HEST regression, TP53 and unsupervised metrics.
# One result per (benchmark, task, model): results/bench/{benchmark}/{task}/{model}.json.


rule build_demo_dataset:
    output:
        directory("results/datasets/{dataset}"),
    log:
        "logs/build_demo_dataset/{dataset}.log",
    benchmark:
        "runtime/build_demo_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=wildcard_choice(datasets_of("demo")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        script=script("build_demo_dataset.py"),
        kind=lambda w: DATASETS[w.dataset]["kind"],
        seed=lambda w: DATASETS[w.dataset].get("seed", 0),
        extra=lambda w: as_json(DATASETS[w.dataset].get("params", {})),
    shell:
        "python {params.script} --dataset {params.kind} --out {output} --seed {params.seed}"
        " --params {params.extra:q} > {log} 2>&1"


rule fetch_dataset:
    output:
        directory("results/datasets/{dataset}"),
    log:
        "logs/fetch_dataset/{dataset}.log",
    benchmark:
        "runtime/fetch_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=wildcard_choice(datasets_of("fetch")),
    retries: 2
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=600,
    params:
        script=script("fetch_dataset.py"),
        kind=lambda w: DATASETS[w.dataset]["kind"],
        tasks=lambda w: (
            "--tasks " + " ".join(map(shlex.quote, PB["hest"]["tasks"]))
            if DATASETS[w.dataset]["kind"] == "hest"
            else ""
        ),
    shell:
        "python {params.script} --dataset {params.kind} --root {output} {params.tasks}"
        " > {log} 2>&1"


rule linear_probe:
    input:
        embeddings("{model}", "{task}"),
    output:
        expand(
            "results/bench/linear_probe-{protocol}/{{task}}/{{model}}.json",
            protocol=PB["linear_probe"]["protocols"],
        ),
    log:
        "logs/linear_probe/{task}/{model}.log",
    benchmark:
        "runtime/linear_probe/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(PB["linear_probe"]["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        script=script("linear_probe.py"),
        pairs=lambda w, output: " ".join(
            f"--protocol {p} --out {o}"
            for p, o in zip(PB["linear_probe"]["protocols"], output)
        ),
        overrides=as_json(PB["linear_probe"]["overrides"]),
        overrides_name=PB["linear_probe"]["overrides_name"],
        seed=PB["linear_probe"]["seed"],
    shell:
        "python {params.script} --embeddings {input} --task {wildcards.task} {params.pairs}"
        " --overrides {params.overrides:q} --overrides-name {params.overrides_name}"
        " --seed {params.seed} > {log} 2>&1"


rule hest_bench:
    input:
        store=lambda w: embeddings(w.model, f"{hest_dataset()}-{w.task}"),
        dataset=lambda w: f"results/datasets/{hest_dataset()}",
    output:
        "results/bench/hest-{pooling}/{task}/{model}.json",
    log:
        "logs/hest_bench/{pooling}/{task}/{model}.log",
    benchmark:
        "runtime/hest_bench/{pooling}/{task}/{model}.tsv"
    wildcard_constraints:
        pooling=wildcard_choice([pooling_slug(p) for p in PB["hest"]["poolings"]]),
        task=wildcard_choice(PB["hest"]["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        script=script("hest_bench.py"),
        pooling=lambda w: {pooling_slug(p): p for p in PB["hest"]["poolings"]}[
            w.pooling
        ],
        options=lambda w: " ".join(
            [f"--pca-dim {PB['hest']['pca_dim']}", f"--seed {PB['hest']['seed']}"]
            + (
                [f"--alpha {PB['hest']['alpha']}"]
                if PB["hest"]["alpha"] is not None
                else []
            )
            + (
                [f"--extra-genes-file {shlex.quote(PB['hest']['extra_genes_file'])}"]
                if PB["hest"]["extra_genes_file"]
                else []
            )
        ),
    shell:
        "python {params.script} --embeddings {input.store} --task-dir {input.dataset}/{wildcards.task}"
        " --pooling {params.pooling:q} {params.options} --benchmark hest-{wildcards.pooling}"
        " --out {output} > {log} 2>&1"


rule tp53_bench:
    input:
        embeddings("{model}", "{task}"),
    output:
        "results/bench/tp53/{task}/{model}.json",
    log:
        "logs/tp53_bench/{task}/{model}.log",
    benchmark:
        "runtime/tp53_bench/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(PB["tp53"]["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        script=script("tp53_bench.py"),
        protocol=PB["tp53"]["protocol"],
        overrides=lambda w: as_json(
            {
                **PB["linear_probe"]["overrides"].get(PB["tp53"]["protocol"], {}),
                **PB["tp53"]["overrides"],
            }
        ),
        name=PB["tp53"]["overrides_name"] or PB["linear_probe"]["overrides_name"],
        folds=PB["tp53"]["folds"],
        seed=PB["tp53"]["seed"],
    shell:
        "python {params.script} --embeddings {input} --task {wildcards.task}"
        " --protocol {params.protocol} --overrides {params.overrides:q} --overrides-name {params.name}"
        " --folds {params.folds} --seed {params.seed} --out {output} > {log} 2>&1"


rule unsupervised_metrics:
    input:
        embeddings("{model}", "{task}"),
    output:
        "results/bench/unsupervised/{task}/{model}.json",
    log:
        "logs/unsupervised_metrics/{task}/{model}.log",
    benchmark:
        "runtime/unsupervised_metrics/{task}/{model}.tsv"
    wildcard_constraints:
        task=wildcard_choice(PB["unsupervised"]["tasks"]),
        model="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        script=script("unsupervised_metrics.py"),
        max_samples=PB["unsupervised"]["max_samples"],
        seed=PB["unsupervised"]["seed"],
    shell:
        "python {params.script} --embeddings {input} --task {wildcards.task}"
        " --max-samples {params.max_samples} --seed {params.seed} --out {output} > {log} 2>&1"
