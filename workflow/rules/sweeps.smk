# Ablation sweeps (config 'sweeps'): the training sweeps' derived runs are trained by
# train_ssl (pathfm.workflow.models.training_runs adds them to the training runs) and,
# with the extra models of config 'ablation', embedded and linear-probed on the
# ablation tasks only (rules of embed.smk and bench_patch.smk).
include: "common.smk"


rule ablation_only:
    input:
        lambda w: PLAN.ablation.targets(),
