# Tile grids at an exact mpp, one zarr store per slide and tiling.
include: "common.smk"


rule tiles:
    input:
        slide=paths.slide("{cohort}", "{slide_id}"),
        mask=paths.mask_file("{cohort}", "{slide_id}", "mask.png"),
        meta=paths.mask_file("{cohort}", "{slide_id}", "mask.json"),
        manifest=ancient(paths.manifest("{cohort}")),
    output:
        directory(paths.tile_store("{cohort}", "{tiling}", "{slide_id}")),
    log:
        "logs/tiles/{cohort}/{tiling}/{slide_id}.log",
    benchmark:
        "runtime/tiles/{cohort}/{tiling}/{slide_id}.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        script=PLAN.script("tiles.py"),
        tiling=lambda w: PLAN.cohorts.tiling_json(w.tiling),
        mpp_policy=lambda w: PLAN.cohorts.mpp_policy(w.cohort),
        mask_dir=lambda w: paths.mask_dir(w.cohort, w.slide_id),
    shell:
        "pathfm {params.script:q} --slide {input.slide:q} --slide-id {wildcards.slide_id:q}"
        " --mask-dir {params.mask_dir:q} --manifest {input.manifest:q}"
        " --mpp-policy {params.mpp_policy:q} --params {params.tiling:q} --out {output:q}"
        " > {log:q} 2>&1"
