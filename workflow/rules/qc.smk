# Cohort QC: thumbnails with mask contours and tile counts, plus a table.
include: "common.smk"


rule qc_summary:
    input:
        manifest=paths.manifest("{cohort}"),
        # Per-slide files or shard markers; the script expands markers.
        masks=lambda w: PLAN.cohorts.slide_files(w.cohort, "masks"),
        tiles=lambda w: PLAN.cohorts.all_tile_stores(w.cohort),
    output:
        png=report(
            paths.qc_summary("{cohort}"),
            caption="../report/qc_summary.rst",
            category="Quality control",
        ),
        tsv=paths.qc_summary("{cohort}", ".tsv"),
    log:
        "logs/qc_summary/{cohort}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=PLAN.script("qc_summary.py"),
    shell:
        "pathfm {params.script:q} --cohort {wildcards.cohort:q} --manifest {input.manifest:q}"
        " --masks {input.masks:q} --tiles {input.tiles:q} --png {output.png:q} --tsv {output.tsv:q}"
        " > {log:q} 2>&1"
