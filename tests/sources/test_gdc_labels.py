"""Survival and TP53 labels from a fake GDC with hand-made cases, mutations and CNVs."""

import pandas as pd

from pathfm.sources.gdc import GDCClient
from pathfm.sources.gdc_labels import fetch_survival, fetch_tp53, survival_from_cases
from pathfm.sources.http import RetryPolicy

FAST = RetryPolicy(max_attempts=2, backoff_base=0.01, timeout=10)


def _case(pid, status, death=None, last=None, fu=None, files=()):
    return {"submitter_id": pid, "project": {"project_id": "TCGA-BRCA"},
            "demographic": {"vital_status": status, "days_to_death": death},
            "diagnoses": [{"days_to_last_follow_up": last}],
            "follow_ups": [{"days_to_follow_up": v} for v in (fu or [])],
            "files": [{"data_type": t, "access": "open"} for t in files]}


def _ssm(pid, impact, symbol="TP53", canonical=True):
    return {"case": {"submitter_id": pid, "project": {"project_id": "TCGA-BRCA"}},
            "ssm": {"consequence": [
                {"transcript": {"gene": {"symbol": symbol}, "is_canonical": canonical,
                                "annotation": {"vep_impact": impact}}},
                {"transcript": {"gene": {"symbol": symbol}, "is_canonical": not canonical,
                                "annotation": {"vep_impact": "MODIFIER"}}}]}}


def _cnv(pid, category, symbol="TP53"):
    return {"case": {"submitter_id": pid, "project": {"project_id": "TCGA-BRCA"}},
            "cnv": {"cnv_change_5_category": category, "consequence": [{"gene": {"symbol": symbol}}]}}


def test_survival_rules():
    df = survival_from_cases([
        _case("TCGA-AA-0001", "Dead", death=100, last=50),
        _case("TCGA-AA-0002", "Alive", last=300, fu=[450, None]),
        _case("TCGA-AA-0003", "Alive"),  # no time: dropped
        _case("TCGA-AA-0004", "Not Reported", last=10),  # unknown status: dropped
    ])
    assert df.to_dict("records") == [
        {"patient": "TCGA-AA-0001", "project": "TCGA-BRCA", "vital_status": "Dead", "time_days": 100.0, "event": 1},
        {"patient": "TCGA-AA-0002", "project": "TCGA-BRCA", "vital_status": "Alive", "time_days": 450.0, "event": 0}]


def _populate(fake):
    mut, cnv = ["Masked Somatic Mutation"], ["Gene Level Copy Number"]
    fake.entities["cases"] += [
        _case("TCGA-AA-0001", "Dead", death=100, files=mut + cnv),   # HIGH -> 1
        _case("TCGA-AA-0002", "Alive", last=5, files=mut + cnv),      # MODERATE -> 1
        _case("TCGA-AA-0003", "Alive", last=5, files=mut + cnv),      # LOW only -> 0
        _case("TCGA-AA-0004", "Alive", last=5, files=mut + cnv),      # homdel -> 1
        _case("TCGA-AA-0005", "Alive", last=5, files=mut + cnv),      # nothing -> 0
        _case("TCGA-AA-0006", "Alive", last=5, files=cnv),            # not mutation-profiled -> no label
        _case("TCGA-AA-0007", "Alive", last=5, files=mut),            # HIGH on non-canonical only -> 0
    ]
    fake.entities["ssm_occurrences"] += [
        _ssm("TCGA-AA-0001", "HIGH"), _ssm("TCGA-AA-0002", "MODERATE"), _ssm("TCGA-AA-0003", "LOW"),
        _ssm("TCGA-AA-0005", "HIGH", symbol="KRAS"), _ssm("TCGA-AA-0007", "HIGH", canonical=False)]
    fake.entities["cnv_occurrences"] += [
        _cnv("TCGA-AA-0004", "Homozygous Deletion"), _cnv("TCGA-AA-0005", "Loss"),
        _cnv("TCGA-AA-0003", "Homozygous Deletion", symbol="CDKN2A")]


def test_tp53_rule(fake_gdc):
    _populate(fake_gdc)
    client = GDCClient(fake_gdc.url, policy=FAST, page_size=2)
    df = fetch_tp53(client, ["TCGA-BRCA"]).set_index("patient")
    assert df["tp53_aberrated"].to_dict() == {"TCGA-AA-0001": 1, "TCGA-AA-0002": 1, "TCGA-AA-0003": 0,
                                              "TCGA-AA-0004": 1, "TCGA-AA-0005": 0, "TCGA-AA-0007": 0}
    assert df.loc["TCGA-AA-0004", "tp53_homdel"] == 1 and df.loc["TCGA-AA-0004", "tp53_mutation"] == 0
    assert pd.isna(df.loc["TCGA-AA-0007", "tp53_homdel"])  # no copy-number data for this one
    ssm_posts = [r["body"] for r in fake_gdc.requests if r["path"] == "/ssm_occurrences"]
    fields = [c["content"]["field"] for c in ssm_posts[0]["filters"]["content"]]
    assert fields == ["case.project.project_id", "ssm.consequence.transcript.gene.symbol"]
    anyt = fetch_tp53(client, ["TCGA-BRCA"], canonical_only=False).set_index("patient")
    assert anyt.loc["TCGA-AA-0007", "tp53_aberrated"] == 1


def test_survival_fetch_and_cli(fake_gdc, tmp_path):
    _populate(fake_gdc)
    client = GDCClient(fake_gdc.url, policy=FAST, page_size=3)
    assert len(fetch_survival(client, ["TCGA-BRCA"])) == 7
    from pathfm.commands import gdc_labels as cli

    out = tmp_path / "tp53.tsv"
    assert cli.main(["--label", "tp53", "--projects", "TCGA-BRCA", "--api", fake_gdc.url, "--out", str(out)]) == 0
    df = pd.read_csv(out, sep="\t")
    assert df["tp53_aberrated"].sum() == 3 and df["patient"].is_unique
