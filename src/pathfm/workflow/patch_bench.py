"""Embeddings of patch datasets and the patch-level benchmarks (eva linear probing,
HEST, TP53, unsupervised metrics): one result per (benchmark, task, model)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from pathfm.workflow import paths
from pathfm.workflow.models import ModelPlan
from pathfm.workflow.shell_args import as_json, joined


def pooling_slug(pooling: str) -> str:
    return pooling.replace("+", "_")


class PatchBenchPlan:
    def __init__(self, config: Mapping, models: ModelPlan):
        self.embed = config["embed"]
        pb = config["patch_bench"]
        self.datasets: Mapping = pb["datasets"]
        self.lp, self.hest, self.tp53, self.uns = (
            pb["linear_probe"], pb["hest"], pb["tp53"], pb["unsupervised"])
        self._models = models

    def embed_models(self) -> list[str]:
        """embed.models; with skip_unavailable, those whose weights nothing makes are left out."""
        return self._models.select(self.embed["models"], self.embed["skip_unavailable"])

    def embed_settings_argv(self) -> list[str]:
        """The embedding options every embedding job passes (config embed)."""
        e = self.embed
        return [word for flag, key in (("--dtype", "dtype"), ("--batch-size", "batch_size"),
                                       ("--workers", "workers"), ("--shard-size", "shard_size"),
                                       ("--autocast", "autocast"))
                for word in (flag, str(e[key]))]

    embed_settings = joined(embed_settings_argv)

    # Datasets and their embeddings -----------------------------------------------------

    def datasets_of(self, origin: str) -> list[str]:
        return [n for n, s in self.datasets.items() if s["origin"] == origin]

    def dataset(self, name: str) -> Mapping:
        return self.datasets[name]

    def fetch_tasks_argv(self, name: str) -> list[str]:
        """fetch_dataset.py's ``--tasks`` (HEST only: the tasks to fetch)."""
        if self.datasets[name]["kind"] != "hest":
            return []
        return ["--tasks", *self.hest["tasks"]]

    fetch_tasks_arg = joined(fetch_tasks_argv)

    def embedding_spec(self, name: str) -> dict:
        """Embedding dataset name -> its dataset folder, kind and embed arguments.

        EVA sets and TP53 embed under their dataset name; HEST tasks as hest-{task}, with
        the extra poolings the HEST benchmark compares (CLS alone, CLS + mean patch tokens).
        """
        folder, kind, task, poolings = self._embedding_parts(name)
        return {"folder": folder, "kind": kind, "task_args": shlex.join(task),
                "poolings_args": shlex.join(poolings)}

    def _embedding_parts(self, name: str) -> tuple[str, str, list[str], list[str]]:
        """(folder, kind, task argv, extra poolings argv) of :meth:`embedding_spec`."""
        if name in self.datasets and self.datasets[name]["kind"] != "hest":
            return name, self.datasets[name]["kind"], [], []
        folder, _, task = name.partition("-")
        if folder in self.datasets and self.datasets[folder]["kind"] == "hest" and task:
            return folder, "hest", ["--task", task], ["--extra-poolings", *self.hest["poolings"]]
        raise ValueError(f"no dataset in config patch_bench.datasets makes embeddings {name!r}")

    def embed_source_argv(self, name: str, root: str) -> list[str]:
        """embed.py arguments naming what a patch-dataset embedding job reads."""
        _, kind, task, poolings = self._embedding_parts(name)
        return ["--kind", kind, "--root", root, *task, *poolings]

    embed_source_args = joined(embed_source_argv)

    def hest_dataset(self) -> str | None:
        names = [n for n, s in self.datasets.items() if s["kind"] == "hest"]
        return names[0] if names else None

    # Benchmark jobs --------------------------------------------------------------------

    def lp_outputs(self) -> list[str]:
        return [paths.bench_result(f"linear_probe-{p}", "{task}", "{model}")
                for p in self.lp["protocols"]]

    def lp_pairs_argv(self, outputs: list[str]) -> list[str]:
        """``--protocol P --out FILE`` per linear-probe protocol, with its output file."""
        return [w for p, o in zip(self.lp["protocols"], outputs) for w in ("--protocol", p,
                                                                           "--out", o)]

    lp_pairs = joined(lp_pairs_argv)

    def hest_slugs(self) -> list[str]:
        return [pooling_slug(p) for p in self.hest["poolings"]]

    def hest_pooling(self, slug: str) -> str:
        return {pooling_slug(p): p for p in self.hest["poolings"]}[slug]

    def hest_options_argv(self) -> list[str]:
        """hest_bench.py's settings (config patch_bench.hest)."""
        h = self.hest
        options = ["--pca-dim", str(h["pca_dim"]), "--seed", str(h["seed"])]
        if h["alpha"] is not None:
            options += ["--alpha", str(h["alpha"])]
        if h["extra_genes_file"]:
            options += ["--extra-genes-file", h["extra_genes_file"]]
        return options

    hest_options = joined(hest_options_argv)

    def tp53_overrides(self) -> str:
        return as_json({**self.lp["overrides"].get(self.tp53["protocol"], {}),
                        **self.tp53["overrides"]})

    def tp53_overrides_name(self) -> str:
        return self.tp53["overrides_name"] or self.lp["overrides_name"]

    # What exists -----------------------------------------------------------------------

    def result_tasks(self) -> dict[str, list[str]]:
        """benchmark -> the tasks this stage's rules can score (for any model)."""
        out = {f"linear_probe-{p}": list(self.lp["tasks"]) for p in self.lp["protocols"]}
        out |= {f"hest-{s}": list(self.hest["tasks"]) for s in self.hest_slugs()}
        out["tp53"] = list(self.tp53["tasks"])
        out["unsupervised"] = list(self.uns["tasks"])
        return out

    def targets(self) -> list[str]:
        models = self.embed_models()
        out = [paths.bench_result(f"linear_probe-{p}", t, m)
               for p in self.lp["protocols"] for t in self.lp["tasks"] for m in models]
        out += [paths.bench_result(f"hest-{s}", t, m)
                for s in self.hest_slugs() for t in self.hest["tasks"] for m in models]
        out += [paths.bench_result("tp53", t, m) for t in self.tp53["tasks"] for m in models]
        out += [paths.bench_result("unsupervised", t, m)
                for t in self.uns["tasks"] for m in models]
        return out
