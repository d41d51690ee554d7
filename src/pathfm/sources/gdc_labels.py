"""Patient-level labels from the GDC: overall survival and kaiko's TP53 status.

Survival (``cases`` endpoint): ``event`` = 1 when ``demographic.vital_status`` is
"Dead"; ``time_days`` = ``demographic.days_to_death`` for the dead, else the
largest of ``diagnoses.days_to_last_follow_up`` and ``follow_ups.days_to_follow_up``.
Patients with no usable time are dropped (and counted in the log).

TP53 (kaiko.ai, after Donehower et al. 2019): aberrated when the gene carries a
mutation of VEP IMPACT MODERATE or HIGH, with no VAF filter, or a homozygous
deletion. Sources, chosen because they are the GDC's harmonised open-access calls:
  * mutations: ``ssm_occurrences`` filtered on ``ssm.consequence.transcript.gene.symbol``
    = TP53; the impact is read on the canonical TP53 transcript
    (``is_canonical``), as the GDC portal reports it; ``canonical_only=False`` takes
    any TP53 transcript instead;
  * deletions: ``cnv_occurrences`` with ``cnv.cnv_change_5_category`` =
    "Homozygous Deletion" on TP53 (gene-level ASCAT copy number);
  * who was profiled: cases with an open "Masked Somatic Mutation" file (resp.
    "Gene Level Copy Number"). A profiled patient without a qualifying event is
    wild type (0); a patient never profiled for mutations gets no label unless a
    homozygous deletion marks it aberrated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from pathfm.sources.gdc import GDCClient, and_filter, in_filter

log = logging.getLogger(__name__)

SURVIVAL_FIELDS = ("submitter_id", "project.project_id", "demographic.vital_status",
                   "demographic.days_to_death", "diagnoses.days_to_last_follow_up",
                   "follow_ups.days_to_follow_up")
SSM_FIELDS = ("ssm_occurrence_id", "case.submitter_id", "case.project.project_id", "ssm.ssm_id",
              "ssm.consequence.transcript.gene.symbol", "ssm.consequence.transcript.is_canonical",
              "ssm.consequence.transcript.annotation.vep_impact")
CNV_FIELDS = ("cnv_occurrence_id", "case.submitter_id", "case.project.project_id",
              "cnv.cnv_change_5_category", "cnv.consequence.gene.symbol")
QUALIFYING_IMPACT = frozenset({"HIGH", "MODERATE"})
HOMDEL = "Homozygous Deletion"


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def survival_from_cases(cases: Iterable[dict]) -> pd.DataFrame:
    rows, dropped = [], 0
    for case in cases:
        demo = case.get("demographic") or {}
        status = (demo.get("vital_status") or "").strip()
        follow = [_num(d.get("days_to_last_follow_up")) for d in case.get("diagnoses") or []]
        follow += [_num(f.get("days_to_follow_up")) for f in case.get("follow_ups") or []]
        follow = [v for v in follow if not np.isnan(v)]
        if status == "Dead":
            time, event = _num(demo.get("days_to_death")), 1
        elif status == "Alive":
            time, event = (max(follow) if follow else float("nan")), 0
        else:
            time, event = float("nan"), 0
        if np.isnan(time) or time < 0:
            dropped += 1
            continue
        rows.append({"patient": case["submitter_id"], "project": (case.get("project") or {}).get("project_id", ""),
                     "vital_status": status, "time_days": time, "event": event})
    if dropped:
        log.info("survival: dropped %d patient(s) without a usable time", dropped)
    df = pd.DataFrame(rows, columns=["patient", "project", "vital_status", "time_days", "event"])
    return df.drop_duplicates("patient").sort_values("patient").reset_index(drop=True)


def fetch_survival(client: GDCClient, projects: Sequence[str]) -> pd.DataFrame:
    filters = in_filter("project.project_id", projects)
    return survival_from_cases(client.query("cases", filters, SURVIVAL_FIELDS, sort="submitter_id:asc"))


def _tp53_mutated(occurrence: dict, gene: str, canonical_only: bool) -> bool:
    for cons in (occurrence.get("ssm") or {}).get("consequence") or []:
        tx = cons.get("transcript") or {}
        if (tx.get("gene") or {}).get("symbol") != gene:
            continue
        if canonical_only and not tx.get("is_canonical"):
            continue
        if ((tx.get("annotation") or {}).get("vep_impact") or "").upper() in QUALIFYING_IMPACT:
            return True
    return False


def tp53_status(
    ssm_occurrences: Iterable[dict],
    cnv_occurrences: Iterable[dict],
    mutation_profiled: Iterable[str],
    cnv_profiled: Iterable[str] = (),
    projects: dict[str, str] | None = None,
    gene: str = "TP53",
    canonical_only: bool = True,
) -> pd.DataFrame:
    """Tidy per-patient table: tp53_mutation, tp53_homdel, n_mutations, tp53_aberrated (0/1)."""
    projects = dict(projects or {})
    n_mut: dict[str, int] = {}
    for occ in ssm_occurrences:
        case = occ.get("case") or {}
        pid = case.get("submitter_id")
        projects.setdefault(pid, (case.get("project") or {}).get("project_id", ""))
        if _tp53_mutated(occ, gene, canonical_only):
            n_mut[pid] = n_mut.get(pid, 0) + 1
    homdel: set[str] = set()
    for occ in cnv_occurrences:
        case = occ.get("case") or {}
        cnv = occ.get("cnv") or {}
        genes = {(c.get("gene") or {}).get("symbol") for c in cnv.get("consequence") or []}
        if cnv.get("cnv_change_5_category") == HOMDEL and gene in genes:
            homdel.add(case.get("submitter_id"))
            projects.setdefault(case.get("submitter_id"), (case.get("project") or {}).get("project_id", ""))
    mut_set, cnv_set = set(mutation_profiled), set(cnv_profiled) | homdel
    patients = sorted(mut_set | set(n_mut) | homdel)
    rows = []
    for p in patients:
        mutated = p in n_mut
        deleted = p in homdel
        profiled = p in mut_set or mutated
        if not profiled and not deleted:
            continue
        rows.append({"patient": p, "project": projects.get(p, ""),
                     "tp53_mutation": int(mutated) if profiled else pd.NA,
                     "n_mutations": n_mut.get(p, 0),
                     "tp53_homdel": int(deleted) if p in cnv_set else pd.NA,
                     "tp53_aberrated": int(mutated or deleted)})
    df = pd.DataFrame(rows, columns=["patient", "project", "tp53_mutation", "n_mutations", "tp53_homdel",
                                     "tp53_aberrated"])
    log.info("TP53: %d patients, %d aberrated", len(df), int(df["tp53_aberrated"].sum()) if len(df) else 0)
    return df


def fetch_tp53(client: GDCClient, projects: Sequence[str], gene: str = "TP53",
               canonical_only: bool = True) -> pd.DataFrame:
    proj = in_filter("case.project.project_id", projects)
    ssm = client.query("ssm_occurrences",
                       and_filter(proj, in_filter("ssm.consequence.transcript.gene.symbol", [gene])),
                       SSM_FIELDS, sort="ssm_occurrence_id:asc")
    cnv = client.query("cnv_occurrences",
                       and_filter(proj, in_filter("cnv.consequence.gene.symbol", [gene]),
                                  in_filter("cnv.cnv_change_5_category", [HOMDEL])),
                       CNV_FIELDS, sort="cnv_occurrence_id:asc")

    def profiled(data_type: str) -> dict[str, str]:
        filters = and_filter(in_filter("project.project_id", projects),
                             in_filter("files.data_type", [data_type]), in_filter("files.access", ["open"]))
        return {c["submitter_id"]: (c.get("project") or {}).get("project_id", "")
                for c in client.query("cases", filters, ("submitter_id", "project.project_id"),
                                      sort="submitter_id:asc")}

    mut_cases = profiled("Masked Somatic Mutation")
    cnv_cases = profiled("Gene Level Copy Number")
    return tp53_status(list(ssm), list(cnv), mut_cases, cnv_cases, {**cnv_cases, **mut_cases}, gene, canonical_only)
