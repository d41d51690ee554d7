# Distillation: H0-mini (frozen teacher -> student) and GPFM (DINOv2 + frozen experts).
# Each entry of distill.runs is one model trained on one cohort's tile stores. Checkpoints
# under results/train/{model}/ are not outputs, so a failed or pre-empted job resumes.
from pathfm.train.distill_workflow import frozen_weight_inputs, launcher, resolve_runs

# Resolved now, so a typo in a run config stops the workflow before any job runs.
# A run with `scratch_of: <run>` is that run's from-scratch twin (DINOv2, no teacher).
DISTILL_RUNS, DISTILL_CONFIGS = resolve_runs(config.get("distill", {}).get("runs", {}))
DISTILL_PRODUCED = set(globals().get("TRAIN_RUNS", {})) | set(DISTILL_RUNS)


rule distill:
    input:
        frozen=lambda w: frozen_weight_inputs(
            DISTILL_CONFIGS[w.model], DISTILL_PRODUCED, hasattr(rules, "fetch_weights")
        ),
        tiles=lambda w: slide_files(
            DISTILL_RUNS[w.model]["cohort"],
            "tiles",
            tiling=DISTILL_RUNS[w.model]["tiling"],
        ),
        manifest=lambda w: ancient(manifest_path(DISTILL_RUNS[w.model]["cohort"])),
    output:
        weights="results/models/{model}/weights.safetensors",
        card="results/models/{model}/card.yaml",
    log:
        "logs/distill/{model}.log",
    benchmark:
        "runtime/distill/{model}.tsv"
    wildcard_constraints:
        model=wildcard_choice(list(DISTILL_RUNS)),
    conda:
        CONDA_ENV
    resources:
        mem_mb=lambda w: DISTILL_RUNS[w.model].get("mem_mb", 8000),
        runtime=lambda w: DISTILL_RUNS[w.model].get("runtime", 60),
        gpu=lambda w: DISTILL_RUNS[w.model].get("gpu", 0),
    params:
        script=script("distill.py"),
        launcher=lambda w, resources: launcher(resources, script("launch.py")),
        config=lambda w: as_json(DISTILL_CONFIGS[w.model]),
        tiles_dir=lambda w: "results/tiles/{cohort}/{tiling}".format(
            **DISTILL_RUNS[w.model]
        ),
        slides_dir=lambda w: "results/slides/{cohort}".format(**DISTILL_RUNS[w.model]),
        out_dir=lambda w: f"results/train/{w.model}",
        export_dir=lambda w, output: Path(output.weights).parent,
    shell:
        "{params.launcher} {params.script} --config {params.config:q}"
        " --manifest {input.manifest} --tiles-dir {params.tiles_dir}"
        " --slides-dir {params.slides_dir} --out-dir {params.out_dir}"
        " --export-dir {params.export_dir} > {log} 2>&1"


ALL_TARGETS["distill"] = lambda: [
    f"results/models/{m}/weights.safetensors" for m in DISTILL_RUNS
]
