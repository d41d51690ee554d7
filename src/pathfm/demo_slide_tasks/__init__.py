"""Slide-level demo tasks derived from synthetic tissue: labels, survival, nuclei masks, retrieval ROIs."""

from pathfm.demo_slide_tasks.labels import (
    MIXES, SlideTruth, grade_label, metastasis_label, sample_mix, survival_times,
)
from pathfm.demo_slide_tasks.nuclei import NUCLEUS_CLASSES, nuclei_mask

__all__ = ["MIXES", "NUCLEUS_CLASSES", "SlideTruth", "grade_label", "metastasis_label",
           "nuclei_mask", "sample_mix", "survival_times"]
