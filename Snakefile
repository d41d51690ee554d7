# pathfm: reproduce the H0-mini, kaiko.ai and GPFM papers end to end.
# Thin by design: configuration, includes and target rules only; the steps live in
# workflow/rules/, their logic in src/pathfm/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/synth.smk"
include: "workflow/rules/masks.smk"
include: "workflow/rules/tiles.smk"
include: "workflow/rules/qc.smk"


rule all:
    default_target: True
    input:
        all_tile_stores(),
        all_qc_summaries(),


rule tiles_only:
    input:
        all_tile_stores(),


rule masks_only:
    input:
        all_masks(),
