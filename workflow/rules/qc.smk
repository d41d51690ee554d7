# Cohort QC: thumbnails with mask contours and tile counts, plus a table.


rule qc_summary:
    input:
        manifest="results/manifests/{cohort}.tsv",
        masks=lambda w: [
            mask_outputs(w.cohort, s)["mask.json"] for s in slide_ids(w.cohort)
        ],
        tiles=lambda w: [
            tile_store_path(w.cohort, t, s)
            for t in COHORTS[w.cohort].get("tilings", [])
            for s in slide_ids(w.cohort)
        ],
    output:
        png=report(
            "results/qc/{cohort}/summary.png",
            caption="../report/qc_summary.rst",
            category="Quality control",
        ),
        tsv="results/qc/{cohort}/summary.tsv",
    log:
        "logs/qc_summary/{cohort}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script("qc_summary.py"),
    shell:
        "python {params.script} --cohort {wildcards.cohort} --manifest {input.manifest}"
        " --masks {input.masks} --tiles {input.tiles} --png {output.png} --tsv {output.tsv}"
        " > {log} 2>&1"
