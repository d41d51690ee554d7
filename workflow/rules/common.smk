# Config validation and the plan every rule reads; no rules. The logic lives in
# src/pathfm/workflow (pathfm.workflow.plan.Plan). Every .smk file includes this one
# first, so that any include order works; Snakemake then reads it once per including
# file, and the checks and the plan run only the first time (plan_for caches them).
from pathlib import Path

import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.memplan import check_gpu_memory
from pathfm.workflow import paths
from pathfm.workflow.plan import plan_for, planned
from pathfm.workflow.shell_args import as_json, option, rule_shell_prefix
from pathfm.workflow.shell_args import wildcard_choice
from pathfm.workflow.validate import check_schema, validate_config

if not planned(config):
    check_schema(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
    fill_defaults(
        config,
        yaml.safe_load(
            (Path(workflow.basedir) / "workflow/schemas/config.schema.yaml").read_text()
        ),
        Path(workflow.basedir) / "workflow" / "schemas",
    )
    validate_config(config)
    check_gpu_memory(config)

CONDA_ENV = "../../envs/pathfm.yaml"
# Checkpoint outputs are read lazily, from input functions only (GDC manifests,
# Camelyon16 / PANDA slide tables).
PLAN = plan_for(
    config,
    workflow.basedir,
    checkpoint_output=lambda rule, **wc: getattr(checkpoints, rule).get(**wc).output[0],
)
# Every rule's shell runs `pathfm` as `python -m pathfm` under the interpreter running
# Snakemake (a shell function in the prefix), so jobs need no venv on PATH; Slurm jobs
# start Snakemake with that same interpreter path. Under --sdm conda, the rules'
# environment's own pathfm. Shell lines quote every value they interpolate ({x:q}).
shell.prefix(rule_shell_prefix(workflow, shell.get_executable()))
