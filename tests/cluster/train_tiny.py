"""A tiny resumable SSL training, as a Slurm job would run it (the preemption test's step).

    python tests/cluster/train_tiny.py --out-dir train --steps 60

Appends the step it starts from to OUT_DIR/starts.txt (0 for a fresh start), so a
test can tell a resumed run from one that began again at step 0. Batches are
slowed down so that a signal lands mid-run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from synthetic import SyntheticMultiCrop, tiny_config, write_registry  # noqa: E402

from pathfm.train.checkpoint import latest_checkpoint, load_checkpoint  # noqa: E402
from pathfm.train.ssl import run  # noqa: E402


class SlowMultiCrop(SyntheticMultiCrop):
    def batch(self, epoch, index):
        time.sleep(0.1)  # ~10 steps/s: leaves time to preempt mid-run
        return super().batch(epoch, index)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    found = latest_checkpoint(args.out_dir / "checkpoints")
    start = load_checkpoint(found)["step"] if found else 0
    with open(args.out_dir / "starts.txt", "a") as f:
        f.write(f"{start}\n")
    cfg = tiny_config(write_registry(args.out_dir), steps=args.steps, checkpoint_every=1000,
                      log_every=1)
    run(cfg, SlowMultiCrop(), args.out_dir, resume=True, export_dir=args.out_dir / "export")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
