# kaiko.ai's TCGA TP53 patch task: patches drawn from a GDC cohort's tissue tiles, each
# with its patient's TP53 status (patch_bench datasets of origin tcga). The set it writes
# is embedded and probed by the rules of embed.smk and bench_patch.smk, like the demo's.
include: "common.smk"


from pathfm.workflow.tp53 import TP53PatchPlan

TP53_SETS = TP53PatchPlan(config, PLAN.cohorts)


rule tp53_patch_set:
    input:
        # Slide and mask lists come from the manifest checkpoint: input functions only.
        slides=lambda w: TP53_SETS.slide_inputs(w.dataset),
        masks=lambda w: TP53_SETS.mask_inputs(w.dataset),
        # ancient: as for the masks, a rewritten manifest alone must not redraw the set.
        manifest=lambda w: ancient(TP53_SETS.manifest(w.dataset)),
        labels=lambda w: TP53_SETS.label_table(w.dataset),
    output:
        directory(paths.dataset_dir("{dataset}")),
    log:
        "logs/tp53_patch_set/{dataset}.log",
    benchmark:
        "runtime/tp53_patch_set/{dataset}.tsv"
    wildcard_constraints:
        dataset=wildcard_choice(TP53_SETS.names()),
    conda:
        CONDA_ENV
    # Threads compute the tile grids; each holds one mask's integral image (~1 GB at most).
    threads: 4
    resources:
        mem_mb=16000,
        # ~11,000 TCGA diagnostic slides: a grid each, then ~10 patch reads each.
        runtime=1440,
    params:
        script=PLAN.script("tp53_patch_set.py"),
        cohort=lambda w: TP53_SETS.cohort(w.dataset),
        masks_dir=lambda w: TP53_SETS.masks_dir(w.dataset),
        mpp_policy=lambda w: TP53_SETS.mpp_policy(w.dataset),
        settings=lambda w: TP53_SETS.settings_json(w.dataset),
        seed=lambda w: TP53_SETS.seed(w.dataset),
    shell:
        "pathfm {params.script:q} --cohort {params.cohort:q} --manifest {input.manifest:q}"
        " --labels {input.labels:q} --masks-dir {params.masks_dir:q}"
        " --mpp-policy {params.mpp_policy:q} --params {params.settings:q}"
        " --seed {params.seed:q} --workers {threads:q} --out {output:q} > {log:q} 2>&1"
