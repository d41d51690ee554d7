# Synthetic cohorts: deterministic TCGA-like slides with their ground truth.
include: "common.smk"


rule synth_slide:
    output:
        slide=paths.slide("{cohort}", "{slide_id}"),
        truth=directory(paths.synth_truth("{cohort}", "{slide_id}")),
    log:
        "logs/synth_slide/{cohort}/{slide_id}.log",
    benchmark:
        "runtime/synth_slide/{cohort}/{slide_id}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.of_source("synthetic")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=15,
    params:
        script=PLAN.script("synth_slide.py"),
        seed=lambda w: PLAN.cohorts.synth_seed(w.cohort, w.slide_id),
        synth=lambda w: as_json(PLAN.cohorts.synth_params(w.cohort)),
    shell:
        "pathfm {params.script} --slide-id {wildcards.slide_id} --seed {params.seed}"
        " --params {params.synth:q} --slide {output.slide} --truth-dir {output.truth}"
        " > {log} 2>&1"


rule synth_manifest:
    input:
        unpack(lambda w: PLAN.cohorts.synth_inputs(w.cohort)),
    output:
        paths.manifest("{cohort}"),
    log:
        "logs/synth_manifest/{cohort}.log",
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.of_source("synthetic")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=PLAN.script("synth_manifest.py"),
    shell:
        "pathfm {params.script} --slides {input.slides} --truth-dirs {input.truth}"
        " --out {output} > {log} 2>&1"
