# Test-only workflow: one GPU rule and one multi-node rule, shaped like train_ssl,
# to see the sbatch line the Slurm executor plugin builds from their resources.


rule all:
    input:
        "gpu.done",
        "multinode.done",


rule one_node_two_gpus:
    output:
        "gpu.done",
    resources:
        gpu=2,
        mem_mb=64000,
        runtime=120,
    shell:
        "touch {output}"


rule two_nodes_four_gpus_each:
    output:
        "multinode.done",
    resources:
        nodes=2,
        gres="gpu:4",
        mem_mb=256000,
        runtime=4320,
        cpus_per_gpu=8,
    shell:
        "touch {output}"
