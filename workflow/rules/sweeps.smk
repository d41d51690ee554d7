# Ablation sweeps (config 'sweeps'): the training sweeps' derived runs are trained by
# train_ssl (train.smk adds them to TRAIN_RUNS) and, with the extra models of config
# 'ablation', embedded and linear-probed on the ablation tasks only (rules of embed.smk
# and bench_patch.smk). The functions live in sweeps_common.smk.


include: "sweeps_common.smk"


rule ablation_only:
    input:
        ablation_targets(),
