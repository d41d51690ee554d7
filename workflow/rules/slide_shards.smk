# Per-slide steps of cohorts with slides_per_job > 1: one job per run of slides.
# Each job writes the usual per-slide files (download.smk, masks.smk, tiles.smk paths)
# and a shard marker listing them; consumers depend on the markers
# (pathfm.workflow.cohorts.CohortPlan.slide_files). Resumes slide by slide
# (pathfm.data.slide_shards).
include: "common.smk"


rule download_slide_shard:
    input:
        # ancient: as for download_slide, a re-queried manifest must not re-download.
        manifest=ancient(paths.manifest("{cohort}")),
    output:
        marker=paths.shard_marker("slides", "{cohort}", "{shard}"),
    log:
        "logs/download_slide_shard/{cohort}/{shard}.log",
    benchmark:
        "runtime/download_slide_shard/{cohort}/{shard}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.sharded(gdc_only=True)),
        shard=r"\d{5}",
    retries: 2
    conda:
        CONDA_ENV
    resources:
        gdc_downloads=1,
        mem_mb=1000,
        # ~1 GB per TCGA slide at >= 2 MB/s, plus slack for retries.
        runtime=lambda w: 30 + 10 * PLAN.cohorts.slides_per_job(w.cohort),
    params:
        script=PLAN.script("slide_shard.py"),
        api=config["gdc_api"],
        per_job=lambda w: PLAN.cohorts.slides_per_job(w.cohort),
        limits=PLAN.download_limits_argv(),
    shell:
        "pathfm {params.script:q} --step download --cohort {wildcards.cohort:q}"
        " --manifest {input.manifest:q} --slides-per-job {params.per_job:q}"
        " --shard {wildcards.shard:q} --api {params.api:q} {params.limits:q}"
        " --out {output.marker:q} > {log:q} 2>&1"


rule mask_shard:
    input:
        slides=lambda w: PLAN.cohorts.shard_slide_inputs(w.cohort, w.shard),
        manifest=ancient(paths.manifest("{cohort}")),
    output:
        marker=paths.shard_marker("masks", "{cohort}", "{shard}"),
    log:
        "logs/mask_shard/{cohort}/{shard}.log",
    benchmark:
        "runtime/mask_shard/{cohort}/{shard}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.sharded()),
        shard=r"\d{5}",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=lambda w: 10 + 2 * PLAN.cohorts.slides_per_job(w.cohort),
    params:
        script=PLAN.script("slide_shard.py"),
        mask=PLAN.cohorts.mask_json(),
        mpp_policy=lambda w: PLAN.cohorts.mpp_policy(w.cohort),
        per_job=lambda w: PLAN.cohorts.slides_per_job(w.cohort),
    shell:
        "pathfm {params.script:q} --step mask --cohort {wildcards.cohort:q}"
        " --manifest {input.manifest:q} --slides-per-job {params.per_job:q}"
        " --shard {wildcards.shard:q} --mpp-policy {params.mpp_policy:q}"
        " --params {params.mask:q} --out {output.marker:q} > {log:q} 2>&1"


rule tiles_shard:
    input:
        masks=paths.shard_marker("masks", "{cohort}", "{shard}"),
        manifest=ancient(paths.manifest("{cohort}")),
    output:
        marker=paths.shard_marker("tiles", "{cohort}", "{shard}", "{tiling}"),
    log:
        "logs/tiles_shard/{cohort}/{tiling}/{shard}.log",
    benchmark:
        "runtime/tiles_shard/{cohort}/{tiling}/{shard}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(PLAN.cohorts.sharded()),
        tiling=wildcard_choice(PLAN.cohorts.tiling_params),
        shard=r"\d{5}",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=lambda w: 10 + 5 * PLAN.cohorts.slides_per_job(w.cohort),
    params:
        script=PLAN.script("slide_shard.py"),
        tiling=lambda w: PLAN.cohorts.tiling_json(w.tiling),
        mpp_policy=lambda w: PLAN.cohorts.mpp_policy(w.cohort),
        per_job=lambda w: PLAN.cohorts.slides_per_job(w.cohort),
    shell:
        "pathfm {params.script:q} --step tiles --cohort {wildcards.cohort:q}"
        " --manifest {input.manifest:q} --slides-per-job {params.per_job:q}"
        " --shard {wildcards.shard:q} --mpp-policy {params.mpp_policy:q}"
        " --params {params.tiling:q} --out {output.marker:q} > {log:q} 2>&1"
