"""Alias of ``pathfm slide-bench-summary``: same arguments, same behaviour."""

import sys

from pathfm.commands.slide_bench_summary import main

if __name__ == "__main__":
    sys.exit(main())
