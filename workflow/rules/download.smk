# Real slides from the GDC: manifest query (a checkpoint: slide ids come from it),
# one download job per slide, and the clinical / TP53 label tables.
# GDC_TOKEN is optional (open-access slides need none); envvars would make it
# mandatory, so it is declared only when a cohort is marked controlled_access.
include: "common.smk"


if PLAN.cohorts.controlled_access():

    envvars:
        "GDC_TOKEN",


checkpoint gdc_manifest:
    output:
        paths.manifest("{cohort}"),
    log:
        "logs/gdc_manifest/{cohort}.log",
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.gdc(frozen=False)),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        script=PLAN.script("gdc_manifest.py"),
        query=lambda w: PLAN.cohorts.gdc_query_argv(w.cohort),
        api=config["gdc_api"],
    shell:
        "pathfm {params.script:q} --cohort {wildcards.cohort:q} {params.query:q}"
        " --slides-root results/slides --api {params.api:q} --out {output:q} > {log:q} 2>&1"


checkpoint frozen_manifest:
    input:
        lambda w: PLAN.cohorts.manifest_source(w.cohort),
    output:
        paths.manifest("{cohort}"),
    log:
        "logs/frozen_manifest/{cohort}.log",
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.gdc(frozen=True)),
    conda:
        CONDA_ENV
    params:
        script=PLAN.script("freeze_manifest.py"),
    shell:
        "pathfm {params.script:q} --cohort {wildcards.cohort:q} --manifest {input:q}"
        " --slides-root results/slides --out {output:q} > {log:q} 2>&1"


rule download_slide:
    input:
        # ancient: re-querying the GDC must not re-download slides whose md5 already matched.
        manifest=ancient(paths.manifest("{cohort}")),
    output:
        slide=paths.slide("{cohort}", "{slide_id}"),
        report=paths.download_record("{cohort}", "{slide_id}"),
    log:
        "logs/download_slide/{cohort}/{slide_id}.log",
    benchmark:
        "runtime/download_slide/{cohort}/{slide_id}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.gdc()),
    retries: 2
    conda:
        CONDA_ENV
    resources:
        gdc_downloads=1,
        mem_mb=1000,
        runtime=240,
    params:
        script=PLAN.script("download_slide.py"),
        api=config["gdc_api"],
        limits=PLAN.download_limits_argv(),
    shell:
        "pathfm {params.script:q} --manifest {input.manifest:q} --slide-id {wildcards.slide_id:q}"
        " --api {params.api:q} {params.limits:q} --report {output.report:q} > {log:q} 2>&1"


rule gdc_labels:
    output:
        paths.labels("{label}"),
    log:
        "logs/gdc_labels/{label}.log",
    wildcard_constraints:
        label="survival|tp53",
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        script=PLAN.script("gdc_labels.py"),
        projects=lambda w: PLAN.cohorts.label_projects(w.label),
        api=config["gdc_api"],
    shell:
        "pathfm {params.script:q} --label {wildcards.label:q} --projects {params.projects:q}"
        " --api {params.api:q} --out {output:q} > {log:q} 2>&1"
