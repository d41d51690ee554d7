"""Survival (ABMIL + Cox or mean-pooled CoxPH), patient-grouped 5-fold C-index -> result JSON."""

import argparse

from pathfm.bench.bag_io import load_bags
from pathfm.bench.slide_result import build_result, write_result
from pathfm.bench.survival import SURVIVAL_MODELS, SurvivalProtocol, patient_bags, run_survival


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--features", required=True)
    ap.add_argument("--table", required=True, help="TSV: slide_id, patient, time, event")
    ap.add_argument("--head", choices=SURVIVAL_MODELS, default="abmil_cox")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-epochs", type=int, default=50)
    ap.add_argument("--task", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    bags, df = load_bags(a.features, a.table)
    pbags, patients = patient_bags(bags, df["patient"].to_numpy())
    per_patient = df.groupby("patient").first().loc[patients]
    protocol = SurvivalProtocol()
    protocol.train.max_epochs = a.max_epochs
    out = run_survival(pbags, per_patient["time"].to_numpy(), per_patient["event"].to_numpy(),
                       protocol, a.seed, a.head)
    settings = protocol.to_dict() | {"head": a.head}
    res = build_result("survival", a.task, a.model, f"{protocol.name}:{a.head}", settings,
                       out["runs"], out["seeds"], {"features": a.features, "table": a.table},
                       {"runs": out["details"]})
    write_result(a.out, res)
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
