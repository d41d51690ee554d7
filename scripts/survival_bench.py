"""Alias of ``pathfm survival-bench``: same arguments, same behaviour."""

import sys

from pathfm.commands.survival_bench import main

if __name__ == "__main__":
    sys.exit(main())
