# Tile grids at an exact mpp, one zarr store per slide and tiling.


rule tiles:
    input:
        slide="results/slides/{cohort}/{slide_id}.svs",
        mask="results/masks/{cohort}/{slide_id}/mask.png",
        meta="results/masks/{cohort}/{slide_id}/mask.json",
        manifest=ancient("results/manifests/{cohort}.tsv"),
    output:
        directory("results/tiles/{cohort}/{tiling}/{slide_id}.zarr"),
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
        script=script("tiles.py"),
        tiling=lambda w: as_json(TILINGS[w.tiling].to_dict()),
        mpp_policy=lambda w: COHORTS[w.cohort].get("mpp_policy", "fallback"),
        mask_dir=lambda w, input: Path(input.meta).parent,
    shell:
        "python {params.script} --slide {input.slide} --slide-id {wildcards.slide_id}"
        " --mask-dir {params.mask_dir} --manifest {input.manifest}"
        " --mpp-policy {params.mpp_policy} --params {params.tiling:q} --out {output}"
        " > {log} 2>&1"
