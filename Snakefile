# pathfm: reproduce the H0-mini, kaiko.ai and GPFM papers end to end.
# Thin by design: configuration, includes and target rules only; the steps live in
# workflow/rules/, their logic in src/pathfm/.
from snakemake.utils import min_version

min_version("9.0")


# The demo config is the default; a --configfile given on the command line (the paper
# config) replaces it instead of being merged over it, so no demo cohort leaks in.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/synth.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/masks.smk"
include: "workflow/rules/tiles.smk"
include: "workflow/rules/slide_shards.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/bench_patch.smk"
include: "workflow/rules/tp53.smk"
include: "workflow/rules/plism.smk"
include: "workflow/rules/bench_slide.smk"
include: "workflow/rules/bench_slide_datasets.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/paper_tables.smk"


rule all:
    default_target: True
    input:
        **PLAN.all_inputs(),


rule tiles_only:
    input:
        **PLAN.cohort_inputs("tiles"),


rule masks_only:
    input:
        **PLAN.cohort_inputs("masks"),


rule slides_only:
    input:
        **PLAN.cohort_inputs("slides"),
