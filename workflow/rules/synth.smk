# Synthetic cohorts: deterministic TCGA-like slides with their ground truth.


rule synth_slide:
    output:
        slide="results/slides/{cohort}/{slide_id}.svs",
        truth=directory("results/synth/{cohort}/{slide_id}"),
    log:
        "logs/synth_slide/{cohort}/{slide_id}.log",
    benchmark:
        "runtime/synth_slide/{cohort}/{slide_id}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(cohorts_from("synthetic")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=15,
    params:
        script=script("synth_slide.py"),
        seed=lambda w: COHORTS[w.cohort]["seed"] + slide_ids(w.cohort).index(w.slide_id),
        synth=lambda w: as_json(COHORTS[w.cohort].get("synth", {})),
    shell:
        "python {params.script} --slide-id {wildcards.slide_id} --seed {params.seed}"
        " --params {params.synth:q} --slide {output.slide} --truth-dir {output.truth}"
        " > {log} 2>&1"


rule synth_manifest:
    input:
        slides=lambda w: [slide_path(w.cohort, s) for s in slide_ids(w.cohort)],
        truth=lambda w: [f"results/synth/{w.cohort}/{s}" for s in slide_ids(w.cohort)],
    output:
        "results/manifests/{cohort}.tsv",
    log:
        "logs/synth_manifest/{cohort}.log",
    wildcard_constraints:
        cohort=wildcard_choice(cohorts_from("synthetic")),
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        script=script("synth_manifest.py"),
    shell:
        "python {params.script} --slides {input.slides} --truth-dirs {input.truth}"
        " --out {output} > {log} 2>&1"
