# Foreground masks per slide, on a low-resolution read at an exact mpp.


rule mask:
    input:
        slide="results/slides/{cohort}/{slide_id}.svs",
        # ancient: adding a slide to the manifest must not re-mask every other slide.
        manifest=ancient("results/manifests/{cohort}.tsv"),
    output:
        mask="results/masks/{cohort}/{slide_id}/mask.png",
        geojson="results/masks/{cohort}/{slide_id}/tissue.geojson",
        qc="results/masks/{cohort}/{slide_id}/qc.png",
        meta="results/masks/{cohort}/{slide_id}/mask.json",
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
        script=script("mask.py"),
        mask=as_json(MASK_PARAMS.to_dict()),
        mpp_policy=lambda w: COHORTS[w.cohort].get("mpp_policy", "fallback"),
        out_dir=lambda w, output: Path(output.meta).parent,
    shell:
        "python {params.script} --slide {input.slide} --slide-id {wildcards.slide_id}"
        " --manifest {input.manifest} --mpp-policy {params.mpp_policy}"
        " --params {params.mask:q} --out {params.out_dir} > {log} 2>&1"
