"""Survival (ABMIL + Cox or mean-pooled CoxPH), patient-grouped 5-fold C-index -> result JSON.

The slide table is either one TSV (slide_id, patient, time, event: the demo cohort's
labels.tsv) or a slide manifest (--slides, with slide_id and patient) joined with
patient labels (--table results/labels/survival.tsv: patient, time_days, event).
"""

import argparse

from pathfm.bench.bag_io import features_provenance, load_bags, slide_table
from pathfm.bench.result import write_result
from pathfm.bench.runs import runs_by_metric
from pathfm.bench.survival import SURVIVAL_MODELS, SurvivalProtocol, patient_bags, run_survival


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--features", required=True, nargs="+", help="embedding stores (zarr) or npz files")
    ap.add_argument("--table", required=True, help="TSV: slide_id, patient, time, event (or patient labels)")
    ap.add_argument("--slides", help="slide manifest (slide_id, patient) joined with --table on patient")
    ap.add_argument("--head", choices=SURVIVAL_MODELS, default="abmil_cox")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--max-epochs", type=int, required=True)
    ap.add_argument("--coxph-alphas", type=float, nargs="+",
                    help="meanpool_coxph ridge penalties tried by inner CV (default: the protocol's)")
    ap.add_argument("--overrides-name", required=True, help="name recorded for non-paper settings")
    ap.add_argument("--benchmark", help="benchmark name (default survival-HEAD)")
    ap.add_argument("--task", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    table = slide_table(a.slides, a.table) if a.slides else a.table
    bags, df = load_bags(a.features, table)
    pbags, patients = patient_bags(bags, df["patient"].to_numpy())
    per_patient = df.groupby("patient").first().loc[patients]
    protocol = SurvivalProtocol()
    protocol.train.max_epochs = a.max_epochs
    if a.coxph_alphas:
        protocol.coxph_alphas = tuple(a.coxph_alphas)
    out = run_survival(pbags, per_patient["time"].to_numpy(), per_patient["event"].to_numpy(),
                       protocol, a.seed, a.head)
    runs, skipped = runs_by_metric(out["runs"])
    settings = protocol.to_dict() | {"head": a.head, "overrides_name": a.overrides_name}
    res = write_result(a.out, benchmark=a.benchmark or f"survival-{a.head}", task=a.task, model=a.model,
                       protocol=f"{protocol.name}:{a.head}", settings=settings, runs=runs, seeds=out["seeds"],
                       provenance=features_provenance(a.features) | {"table": a.table, "slides": a.slides},
                       skipped_runs=skipped, details={"runs": out["details"], "n_patients": len(patients)})
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
