"""GDC slide-file records -> a slide manifest, and the cohort definitions that select them.

A cohort (from the config) names TCGA projects, slide strategies and, optionally,
a number of slides drawn with a seed. Sampling sorts by ``slide_id`` first, so the
draw depends only on the set of files and the seed, never on API order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pathfm.manifest import ManifestError, check_file_name, validate_manifest
from pathfm.sources.gdc import SLIDE_TYPES, GDCClient

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("slide_id", "path", "md5", "size", "file_id", "file_name", "patient",
                    "sample", "project", "slide_type", "mpp")
_TCGA_PATIENT = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}$")


@dataclass(frozen=True)
class CohortSpec:
    name: str
    projects: tuple[str, ...]
    strategies: tuple[str, ...] = ("Diagnostic Slide",)
    data_format: str = "SVS"
    n_slides: int | None = None  # None: every matching slide
    seed: int = 0
    stratify: str | None = None  # e.g. "project": keep each project's share when sampling
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_config(cls, name: str, cfg: Mapping) -> CohortSpec:
        known = {"projects", "strategies", "data_format", "n_slides", "seed", "stratify"}
        if not cfg.get("projects"):
            raise ValueError(f"cohort {name!r}: 'projects' (list of GDC project ids) is required")
        return cls(
            name=name,
            projects=tuple(cfg["projects"]),
            strategies=tuple(cfg.get("strategies", ("Diagnostic Slide",))),
            data_format=cfg.get("data_format", "SVS"),
            n_slides=cfg.get("n_slides"),
            seed=int(cfg.get("seed", 0)),
            stratify=cfg.get("stratify"),
            extra={k: v for k, v in cfg.items() if k not in known},
        )


def hits_to_manifest(hits: Sequence[Mapping], cohort: str, slides_root: str | Path = "results/slides") -> pd.DataFrame:
    """One manifest row per GDC file record; unsafe names and inconsistent records raise ManifestError."""
    rows = []
    for hit in hits:
        name = check_file_name(hit.get("file_name"), f"GDC file {hit.get('file_id')}")
        cases = hit.get("cases") or []
        if len(cases) != 1:
            raise ManifestError(f"GDC file {hit.get('file_id')} ({name}) links {len(cases)} cases; expected 1")
        case = cases[0]
        patient = case.get("submitter_id", "")
        project = (case.get("project") or {}).get("project_id", "")
        if project.startswith("TCGA-") and not _TCGA_PATIENT.match(patient):
            raise ManifestError(f"GDC file {name}: case submitter_id {patient!r} is not a 12-character TCGA barcode")
        slide_id = name[: -len(Path(name).suffix)] if Path(name).suffix else name
        strategy = hit.get("experimental_strategy", "")
        if strategy not in SLIDE_TYPES:
            raise ManifestError(f"GDC file {name}: experimental_strategy {strategy!r} is not a slide strategy")
        rows.append({
            "slide_id": slide_id,
            "path": str(Path(slides_root) / cohort / f"{slide_id}.svs"),
            "md5": hit.get("md5sum"),
            "size": int(hit.get("file_size") or 0),
            "file_id": hit.get("file_id"),
            "file_name": name,
            "patient": patient,
            "sample": _sample_for(name, case.get("samples") or []),
            "project": project,
            "slide_type": SLIDE_TYPES[strategy],
            "mpp": None,
        })
    df = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    df = df.sort_values("slide_id", kind="stable").reset_index(drop=True)
    return validate_manifest(df, f"GDC cohort {cohort}")


def _sample_for(file_name: str, samples: Sequence[Mapping]) -> str:
    # A slide file name starts with its slide barcode, whose first 15 characters
    # are the sample (TCGA-XX-XXXX-01); pick the linked sample that matches.
    ids = [s.get("submitter_id", "") for s in samples]
    for sid in ids:
        if sid and file_name.startswith(sid[:15]):
            return sid
    return ids[0] if ids else ""


def subsample(df: pd.DataFrame, n: int | None, seed: int, stratify: str | None = None) -> pd.DataFrame:
    """``n`` rows drawn without replacement with ``seed``; order-independent, sorted by slide_id.

    With ``stratify``, each group keeps its share of ``n`` (largest-remainder rounding).
    """
    if n is None or n >= len(df):
        if n is not None and n > len(df):
            log.warning("asked for %d slides, only %d match; keeping all", n, len(df))
        return df.sort_values("slide_id").reset_index(drop=True)
    if n <= 0:
        raise ValueError(f"n_slides must be positive, got {n}")
    base = df.sort_values("slide_id").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    if not stratify:
        keep = np.sort(rng.choice(len(base), size=n, replace=False))
        return base.iloc[keep].reset_index(drop=True)
    groups = sorted(base.groupby(stratify).groups.items(), key=lambda kv: str(kv[0]))
    sizes = np.array([len(idx) for _, idx in groups], dtype=float)
    quota = sizes * n / sizes.sum()
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    picked = [np.sort(rng.choice(np.asarray(idx), size=k, replace=False)) for (_, idx), k in zip(groups, take)]
    return base.loc[np.sort(np.concatenate(picked))].reset_index(drop=True)


def build_manifest(client: GDCClient, spec: CohortSpec, slides_root: str | Path = "results/slides") -> pd.DataFrame:
    hits = client.slide_files(spec.projects, spec.strategies, spec.data_format)
    df = hits_to_manifest(hits, spec.name, slides_root)
    out = subsample(df, spec.n_slides, spec.seed, spec.stratify)
    log.info("cohort %s: %d slides (%d matched; projects %s)", spec.name, len(out), len(df), ",".join(spec.projects))
    return out
