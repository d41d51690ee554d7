# Distillation: H0-mini (frozen teacher -> student) and GPFM (DINOv2 + frozen experts).
# Each entry of distill.runs is one model trained on one cohort's tile stores; a run with
# `scratch_of: <run>` is that run's from-scratch twin (DINOv2, no teacher). Checkpoints
# under results/train/{model}/ are not outputs, so a failed or pre-empted job resumes.
include: "common.smk"


from pathfm.launch import command_argv_for_resources


rule distill:
    input:
        frozen=lambda w: PLAN.training.frozen_inputs(w.model),
        tiles=lambda w: PLAN.training.distill_tiles(w.model),
        manifest=lambda w: ancient(PLAN.training.distill_manifest(w.model)),
    output:
        weights=paths.model_weights("{model}"),
        card="results/models/{model}/card.yaml",
    log:
        "logs/distill/{model}.log",
    benchmark:
        "runtime/distill/{model}.tsv"
    wildcard_constraints:
        model=wildcard_choice(PLAN.training.distill_runs),
    conda:
        CONDA_ENV
    resources:
        mem_mb=lambda w: PLAN.training.distill_resource(w.model, "mem_mb"),
        runtime=lambda w: PLAN.training.distill_resource(w.model, "runtime"),
        gpu=lambda w: PLAN.training.distill_resource(w.model, "gpu"),
        nodes=lambda w: PLAN.training.distill_resource(w.model, "nodes"),
    params:
        script=PLAN.script("distill.py"),
        launcher=lambda w, resources: command_argv_for_resources(resources),
        config=lambda w: PLAN.training.distill_json(w.model),
        tiles_dir=lambda w: PLAN.training.distill_tiles_dir(w.model),
        slides_dir=lambda w: PLAN.training.distill_slides_dir(w.model),
        out_dir=lambda w: paths.train_dir(w.model),
        export_dir=lambda w: paths.model_dir(w.model),
    shell:
        "{params.launcher:q} {params.script:q} --config {params.config:q}"
        " --manifest {input.manifest:q} --tiles-dir {params.tiles_dir:q}"
        " --slides-dir {params.slides_dir:q} --out-dir {params.out_dir:q}"
        " --export-dir {params.export_dir:q} > {log:q} 2>&1"
