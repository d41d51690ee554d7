# Self-supervised pre-training (kaiko.ai DINO / DINOv2) on patches read online from slides.
# One job per run of config 'train.runs' (and per run the ablation sweeps derive from
# them); checkpoints under results/train/{model}/ are not outputs, so a failed or
# pre-empted job resumes when rerun (delete that folder to restart).
include: "common.smk"


from pathfm.launch import command_argv_for_resources


rule train_ssl:
    input:
        manifests=lambda w: PLAN.training.manifests(w.model),
        # GDC slide lists come from a checkpoint: separate functions, so that the
        # manifests stay named while the slide list is still unknown.
        # Per-slide files, or the shard markers holding them (slides_per_job > 1).
        masks=lambda w: PLAN.training.slide_inputs(w.model, "masks"),
        slides=lambda w: PLAN.training.slide_inputs(w.model, "slides"),
        init=lambda w: PLAN.training.init_input(w.model),
    output:
        weights=paths.model_weights("{model}"),
        card="results/models/{model}/card.yaml",
        heads="results/models/{model}/heads.safetensors",
    log:
        "logs/train_ssl/{model}.log",
    benchmark:
        "runtime/train_ssl/{model}.tsv"
    wildcard_constraints:
        model=wildcard_choice(PLAN.training.runs),
    conda:
        CONDA_ENV
    resources:
        gpu=lambda w: PLAN.training.resource(w.model, "gpu"),
        nodes=lambda w: PLAN.training.resource(w.model, "nodes"),
        mem_mb=lambda w: PLAN.training.resource(w.model, "mem_mb"),
        runtime=lambda w: PLAN.training.resource(w.model, "runtime"),
    params:
        script=PLAN.script("train_ssl.py"),
        launcher=lambda w, resources: command_argv_for_resources(resources),
        arch=lambda w: PLAN.training.arch(w.model),
        registry=PLAN.training.registry_argv(),
        init=lambda w: PLAN.training.init_argv(w.model),
        mask_dirs=lambda w: PLAN.training.mask_dirs(w.model),
        mpp_policy=lambda w: PLAN.training.mpp_policy(w.model),
        ssl=lambda w: PLAN.training.ssl_json(w.model),
        epochs=lambda w: PLAN.training.section_json(w.model, "epochs"),
        patching=lambda w: PLAN.training.section_json(w.model, "patching"),
        multicrop=lambda w: PLAN.training.section_json(w.model, "multicrop"),
        out_dir=lambda w: paths.train_dir(w.model),
        export_dir=lambda w: paths.model_dir(w.model),
    shell:
        "{params.launcher:q} {params.script:q} --model {params.arch:q} {params.registry:q}"
        " --manifests {input.manifests:q} --mask-dirs {params.mask_dirs:q}"
        " --mpp-policy {params.mpp_policy:q} --ssl {params.ssl:q} --epochs {params.epochs:q}"
        " --patching {params.patching:q} --multicrop {params.multicrop:q} {params.init:q}"
        " --out-dir {params.out_dir:q} --export-dir {params.export_dir:q} > {log:q} 2>&1"


rule train_wsi_subset:
    input:
        manifest=paths.manifest("{cohort}"),
    output:
        manifest="results/models/{model}/wsi_subset/{cohort}.tsv",
        record="results/models/{model}/wsi_subset/{cohort}.json",
    log:
        "logs/train_wsi_subset/{model}/{cohort}.log",
    benchmark:
        "runtime/train_wsi_subset/{model}/{cohort}.tsv"
    wildcard_constraints:
        model=wildcard_choice(PLAN.training.subset_runs()),
        cohort="[^/]+",
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=PLAN.script("wsi_subset.py"),
        fraction=lambda w: PLAN.training.subset(w.model)[0],
        seed=lambda w: PLAN.training.subset(w.model)[1],
    shell:
        "pathfm {params.script:q} --manifest {input.manifest:q} --fraction {params.fraction:q}"
        " --seed {params.seed:q} --out {output.manifest:q} --record {output.record:q} > {log:q} 2>&1"
