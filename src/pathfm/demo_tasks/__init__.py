"""Small labelled task datasets rendered from synthetic tissue, in the real on-disk formats.

Each builder writes a folder that the real loader of :mod:`pathfm.sources.datasets`
(or the TP53 patch-set reader) reads unchanged, so the demo exercises the paper
code paths. Patients / slides never straddle splits.
"""

from pathfm.demo_tasks.eva_like import build_bach, build_crc, build_mhist, build_pcam
from pathfm.demo_tasks.hest_like import build_hest
from pathfm.demo_tasks.tp53_like import build_tp53

BUILDERS = {"bach": build_bach, "crc": build_crc, "mhist": build_mhist, "pcam": build_pcam,
            "hest": build_hest, "tp53": build_tp53}

__all__ = ["BUILDERS", "build_bach", "build_crc", "build_hest", "build_mhist", "build_pcam", "build_tp53"]
