# Functions of the ablation sweeps (no rules here): sweep_models(sweep) gives the tables
# {value label: model} per sweep; ablation_targets() the linear-probe results to make.
from pathfm import sweeps as sw

SWEEPS = config["sweeps"]
ABLATION = config["ablation"]


def _available(model):
    """A model sweep's model is evaluated when the registry has it and, with
    embed.skip_unavailable, when some rule (or a file) provides its weights."""
    if model not in REGISTRY:
        if EMBED["skip_unavailable"]:
            return False
        raise ValueError(
            f"config sweeps/ablation: model {model!r} is not in the registry"
        )
    return weights_available(model) or not EMBED["skip_unavailable"]


def sweep_models(sweep):
    """{value label: model name} of one sweep in config order ({} when it is absent);
    models nothing can make are left out (embed.skip_unavailable)."""
    models = sw.sweep_models(SWEEPS, TRAIN_RUNS, sweep)
    return {label: m for label, m in models.items() if _available(m)}


def sweep_names():
    return list(SWEEPS["axes"])


def ablation_tasks():
    return list(ABLATION["tasks"])


def ablation_protocols():
    return list(ABLATION["protocols"])


def ablation_models():
    """Every sweep model, then the extra ablation models; each once, in config order."""
    models = [m for s in sweep_names() for m in sweep_models(s).values()]
    models += [m for m in ABLATION["models"] if _available(m)]
    return list(dict.fromkeys(models))


def ablation_targets():
    """Linear-probe results (TP53: its own benchmark) of every ablation model."""
    tp53 = PB["tp53"]["tasks"]
    out = []
    for task in ablation_tasks():
        for model in ablation_models():
            if task in tp53:
                out.append(f"results/bench/tp53/{task}/{model}.json")
            else:
                out += [
                    f"results/bench/linear_probe-{p}/{task}/{model}.json"
                    for p in ablation_protocols()
                ]
    return out


ALL_TARGETS["sweeps"] = ablation_targets
