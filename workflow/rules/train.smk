# Self-supervised pre-training (kaiko.ai DINO / DINOv2) on patches read online from slides.
# One job per run of config 'train.runs'; checkpoints under results/train/{model}/ are not
# outputs, so a failed or pre-empted job resumes when rerun (delete that folder to restart).
# The ablation sweeps (config 'sweeps', workflow/rules/sweeps.smk) add derived runs here,
# so that this one rule trains them too.
from pathfm.data import train_runs as tr
from pathfm.models.registry import load_registry
from pathfm.sweeps import with_sweep_runs

TRAIN = config.get("train", {})
TRAIN_RUNS = with_sweep_runs(TRAIN.get("runs", {}), config.get("sweeps"))
MODEL_REGISTRY = load_registry(TRAIN.get("registry"))


rule train_ssl:
    input:
        manifests=lambda w: tr.manifest_inputs(TRAIN_RUNS, w.model, manifest_path),
        # GDC slide lists come from a checkpoint: separate functions, so that the
        # manifests stay named while the slide list is still unknown.
        # Per-slide files, or the shard markers holding them (slides_per_job > 1).
        masks=lambda w: tr.slide_inputs(
            TRAIN_RUNS, w.model, slide_ids, lambda c, ids: slide_files(c, "masks", ids)
        ),
        slides=lambda w: tr.slide_inputs(
            TRAIN_RUNS,
            w.model,
            slide_ids,
            lambda c, ids: slide_files(c, "slides", ids),
        ),
        # Hub weights are an input only when the workflow has a rule to fetch them.
        init=lambda w: tr.init_input(
            TRAIN_RUNS, MODEL_REGISTRY, w.model, hasattr(rules, "fetch_weights")
        ),
    output:
        weights="results/models/{model}/weights.safetensors",
        card="results/models/{model}/card.yaml",
        heads="results/models/{model}/heads.safetensors",
    log:
        "logs/train_ssl/{model}.log",
    benchmark:
        "runtime/train_ssl/{model}.tsv"
    wildcard_constraints:
        model=wildcard_choice(list(TRAIN_RUNS)),
    conda:
        CONDA_ENV
    resources:
        gpu=lambda w: TRAIN_RUNS[w.model].get("gpu", 0),
        mem_mb=lambda w: TRAIN_RUNS[w.model].get("mem_mb", 8000),
        runtime=lambda w: TRAIN_RUNS[w.model].get("runtime", 60),
    params:
        script=script("train_ssl.py"),
        launcher=lambda w, resources: tr.launcher(resources, script("launch.py")),
        arch=lambda w: TRAIN_RUNS[w.model]["model"],
        registry=tr.option("--registry", TRAIN.get("registry")),
        init=lambda w: tr.option(
            "--init", tr.init_weights(TRAIN_RUNS, MODEL_REGISTRY, w.model)
        ),
        mask_dirs=lambda w: [
            f"results/masks/{c}" for c in TRAIN_RUNS[w.model]["cohorts"]
        ],
        mpp_policy=lambda w: tr.mpp_policy(TRAIN_RUNS, COHORTS, w.model),
        ssl=lambda w: as_json(tr.ssl_settings(TRAIN_RUNS, w.model)),
        epochs=lambda w: as_json(TRAIN_RUNS[w.model].get("epochs", {})),
        patching=lambda w: as_json(TRAIN_RUNS[w.model].get("patching", {})),
        multicrop=lambda w: as_json(TRAIN_RUNS[w.model].get("multicrop", {})),
        out_dir=lambda w: f"results/train/{w.model}",
        export_dir=lambda w, output: Path(output.weights).parent,
    shell:
        "{params.launcher} {params.script} --model {params.arch} {params.registry}"
        " --manifests {input.manifests} --mask-dirs {params.mask_dirs}"
        " --mpp-policy {params.mpp_policy} --ssl {params.ssl:q} --epochs {params.epochs:q}"
        " --patching {params.patching:q} --multicrop {params.multicrop:q} {params.init}"
        " --out-dir {params.out_dir} --export-dir {params.export_dir} > {log} 2>&1"


rule train_wsi_subset:
    input:
        manifest=lambda w: manifest_path(w.cohort),
    output:
        manifest="results/models/{model}/wsi_subset/{cohort}.tsv",
        record="results/models/{model}/wsi_subset/{cohort}.json",
    log:
        "logs/train_wsi_subset/{model}/{cohort}.log",
    benchmark:
        "runtime/train_wsi_subset/{model}/{cohort}.tsv"
    wildcard_constraints:
        model=wildcard_choice([r for r in TRAIN_RUNS if tr.wsi_subset(TRAIN_RUNS, r)]),
        cohort="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=script("wsi_subset.py"),
        fraction=lambda w: tr.wsi_subset(TRAIN_RUNS, w.model)[0],
        seed=lambda w: tr.wsi_subset(TRAIN_RUNS, w.model)[1],
    shell:
        "python {params.script} --manifest {input.manifest} --fraction {params.fraction}"
        " --seed {params.seed} --out {output.manifest} --record {output.record} > {log} 2>&1"


ALL_TARGETS["train"] = lambda: [
    f"results/models/{run}/weights.safetensors" for run in TRAIN_RUNS
]
