"""Training: a flat loop, schedules, EMA, checkpoints, DDP, SSL objectives, export.

Entry point for scripts: ``pathfm.train.ssl.run(config, data, out_dir, resume)``.
"""

from pathfm.train.loop import REQUEUE_EXIT_CODE, LoopConfig, NonFiniteLossError, RequeueExit, fit

__all__ = ["REQUEUE_EXIT_CODE", "LoopConfig", "NonFiniteLossError", "RequeueExit", "fit"]
