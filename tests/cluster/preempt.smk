# Test-only workflow: one training step launched as train_ssl is, whose checkpoints
# live outside its outputs so a failed attempt (exit 75 after SIGTERM) keeps them.
from pathlib import Path

REPO = Path(workflow.basedir).parents[1]


rule all:
    input:
        "train/export/weights.safetensors",


rule train_tiny:
    output:
        weights="train/export/weights.safetensors",
    log:
        "logs/train_tiny.log",
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        launch=str(REPO / "scripts" / "launch.py"),
        script=str(REPO / "tests" / "cluster" / "train_tiny.py"),
        steps=config.get("steps", 60),
    shell:
        "python {params.launch} --gpus {resources.gpu} --nodes {resources.nodes} --"
        " {params.script} --out-dir train --steps {params.steps} >> {log} 2>&1"
