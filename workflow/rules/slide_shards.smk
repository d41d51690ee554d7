# Per-slide steps of cohorts with slides_per_job > 1: one job per run of slides.
# Each job writes the usual per-slide files (download.smk, masks.smk, tiles.smk paths)
# and a shard marker listing them; consumers depend on the markers (slide_files in
# common.smk). Resumes slide by slide (pathfm.data.slide_shards).


rule download_slide_shard:
    input:
        # ancient: as for download_slide, a re-queried manifest must not re-download.
        manifest=lambda w: ancient(manifest_path(w.cohort)),
    output:
        marker="results/slides/{cohort}/shards/{shard}.shard.json",
    log:
        "logs/download_slide_shard/{cohort}/{shard}.log",
    benchmark:
        "runtime/download_slide_shard/{cohort}/{shard}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(sharded_cohorts(gdc_only=True)),
        shard=r"\d{5}",
    retries: 2
    conda:
        CONDA_ENV
    resources:
        gdc_downloads=1,
        mem_mb=1000,
        # ~1 GB per TCGA slide at >= 2 MB/s, plus slack for retries.
        runtime=lambda w: 30 + 10 * slides_per_job(w.cohort),
    params:
        script=script("slide_shard.py"),
        api=config["gdc_api"],
        per_job=lambda w: slides_per_job(w.cohort),
    shell:
        "python {params.script} --step download --cohort {wildcards.cohort}"
        " --manifest {input.manifest} --slides-per-job {params.per_job}"
        " --shard {wildcards.shard} --api {params.api} --out {output.marker} > {log} 2>&1"


rule mask_shard:
    input:
        slides=lambda w: shard_slide_inputs(w.cohort, w.shard),
        manifest=ancient("results/manifests/{cohort}.tsv"),
    output:
        marker="results/masks/{cohort}/shards/{shard}.shard.json",
    log:
        "logs/mask_shard/{cohort}/{shard}.log",
    benchmark:
        "runtime/mask_shard/{cohort}/{shard}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(sharded_cohorts()),
        shard=r"\d{5}",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=lambda w: 10 + 2 * slides_per_job(w.cohort),
    params:
        script=script("slide_shard.py"),
        mask=as_json(MASK_PARAMS.to_dict()),
        mpp_policy=lambda w: COHORTS[w.cohort].get("mpp_policy", "fallback"),
        per_job=lambda w: slides_per_job(w.cohort),
    shell:
        "python {params.script} --step mask --cohort {wildcards.cohort}"
        " --manifest {input.manifest} --slides-per-job {params.per_job}"
        " --shard {wildcards.shard} --mpp-policy {params.mpp_policy}"
        " --params {params.mask:q} --out {output.marker} > {log} 2>&1"


rule tiles_shard:
    input:
        masks=lambda w: shard_marker("masks", w.cohort, w.shard),
        manifest=ancient("results/manifests/{cohort}.tsv"),
    output:
        marker="results/tiles/{cohort}/{tiling}/shards/{shard}.shard.json",
    log:
        "logs/tiles_shard/{cohort}/{tiling}/{shard}.log",
    benchmark:
        "runtime/tiles_shard/{cohort}/{tiling}/{shard}.tsv"
    wildcard_constraints:
        cohort=wildcard_choice(sharded_cohorts()),
        tiling=wildcard_choice(list(TILINGS)),
        shard=r"\d{5}",
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=lambda w: 10 + 5 * slides_per_job(w.cohort),
    params:
        script=script("slide_shard.py"),
        tiling=lambda w: as_json(TILINGS[w.tiling].to_dict()),
        mpp_policy=lambda w: COHORTS[w.cohort].get("mpp_policy", "fallback"),
        per_job=lambda w: slides_per_job(w.cohort),
    shell:
        "python {params.script} --step tiles --cohort {wildcards.cohort}"
        " --manifest {input.manifest} --slides-per-job {params.per_job}"
        " --shard {wildcards.shard} --mpp-policy {params.mpp_policy}"
        " --params {params.tiling:q} --out {output.marker} > {log} 2>&1"
