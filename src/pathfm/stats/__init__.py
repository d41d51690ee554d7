"""Ranking statistics across tasks: ranks, Friedman, Nemenyi critical difference, Wilcoxon."""

from pathfm.stats.critical_difference import cd_diagram, nemenyi_cd, nemenyi_q_alpha
from pathfm.stats.ranks import average_ranks, rank_table, task_ranks
from pathfm.stats.tests import (
    bootstrap_wilcoxon_vs_reference,
    friedman_test,
    wilcoxon_vs_reference,
)

__all__ = [
    "average_ranks", "bootstrap_wilcoxon_vs_reference", "cd_diagram", "friedman_test",
    "nemenyi_cd", "nemenyi_q_alpha", "rank_table", "task_ranks", "wilcoxon_vs_reference",
]
