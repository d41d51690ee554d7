# Foreground masks per slide, on a low-resolution read at an exact mpp.
include: "common.smk"


rule mask:
    input:
        slide=paths.slide("{cohort}", "{slide_id}"),
        # ancient: adding a slide to the manifest must not re-mask every other slide.
        manifest=ancient(paths.manifest("{cohort}")),
    output:
        mask=paths.mask_file("{cohort}", "{slide_id}", "mask.png"),
        geojson=paths.mask_file("{cohort}", "{slide_id}", "tissue.geojson"),
        qc=paths.mask_file("{cohort}", "{slide_id}", "qc.png"),
        meta=paths.mask_file("{cohort}", "{slide_id}", "mask.json"),
    log:
        "logs/mask/{cohort}/{slide_id}.log",
    benchmark:
        "runtime/mask/{cohort}/{slide_id}.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        script=PLAN.script("mask.py"),
        mask=PLAN.cohorts.mask_json(),
        mpp_policy=lambda w: PLAN.cohorts.mpp_policy(w.cohort),
        out_dir=lambda w: paths.mask_dir(w.cohort, w.slide_id),
    shell:
        "pathfm {params.script:q} --slide {input.slide:q} --slide-id {wildcards.slide_id:q}"
        " --manifest {input.manifest:q} --mpp-policy {params.mpp_policy:q}"
        " --params {params.mask:q} --out {params.out_dir:q} > {log:q} 2>&1"
