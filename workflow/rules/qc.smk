# Cohort QC: thumbnails with mask contours and tile counts, plus a table.


rule qc_summary:
    input:
        manifest="results/manifests/{cohort}.tsv",
        # Per-slide files or shard markers; the script expands markers.
        masks=lambda w: slide_files(w.cohort, "masks"),
        tiles=lambda w: [
            f
            for t in COHORTS[w.cohort].get("tilings", [])
            for f in slide_files(w.cohort, "tiles", tiling=t)
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
