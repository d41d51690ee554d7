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
        "pathfm {params.script:q} --slide-id {wildcards.slide_id:q} --seed {params.seed:q}"
        " --params {params.synth:q} --slide {output.slide:q} --truth-dir {output.truth:q}"
        " > {log:q} 2>&1"


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
        "pathfm {params.script:q} --slides {input.slides:q} --truth-dirs {input.truth:q}"
        " --out {output:q} > {log:q} 2>&1"
