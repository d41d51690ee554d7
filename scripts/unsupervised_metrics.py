"""Alias of ``pathfm unsupervised-metrics``: same arguments, same behaviour."""

import sys

from pathfm.commands.unsupervised_metrics import main

if __name__ == "__main__":
    sys.exit(main())
