"""Cox partial likelihood (Breslow ties) and Harrell's C-index.

For risks r_i (higher = earlier death), times t_i and event flags δ_i, the
negative log partial likelihood with Breslow's handling of ties is

    L = −(1/E) Σ_{i: δ_i=1} [ r_i − log Σ_{j: t_j ≥ t_i} exp(r_j) ],

E the number of events: tied event times share one risk set, which holds every
subject still at risk at that time (censored ones included).
"""

from __future__ import annotations

import numpy as np
import torch
from sksurv.metrics import concordance_index_censored


def cox_ph_loss(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor | None:
    """risk (N,) or (N, 1), time (N,), event (N,) {0, 1} -> scalar loss; None without events."""
    risk = risk.reshape(-1)
    event = event.reshape(-1).to(risk.dtype)
    if event.sum() == 0:
        return None
    at_risk = (time.reshape(1, -1) >= time.reshape(-1, 1)).to(risk.dtype)        # (i, j): t_j ≥ t_i
    # log Σ_j at_risk[i, j] exp(r_j), stable via logsumexp over masked entries.
    masked = risk.reshape(1, -1) + torch.log(at_risk)
    log_denominator = torch.logsumexp(masked, dim=1)                            # (N,)
    return -((risk - log_denominator) * event).sum() / event.sum()


def c_index(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C by scikit-survival (event as bool, tied_tol 1e-8, as GPFM); NaN if undefined."""
    event = np.asarray(event).astype(bool)
    if event.sum() == 0:
        return float("nan")
    try:
        return float(concordance_index_censored(event, np.asarray(time, float),
                                                np.asarray(risk, float).reshape(-1),
                                                tied_tol=1e-8)[0])
    except ZeroDivisionError:  # no comparable pairs
        return float("nan")
