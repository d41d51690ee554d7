"""Alias of ``pathfm plism-bench``: same arguments, same behaviour."""

import sys

from pathfm.commands.plism_bench import main

if __name__ == "__main__":
    sys.exit(main())
