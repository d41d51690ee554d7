"""Alias of ``pathfm slide-bench``: same arguments, same behaviour."""

import sys

from pathfm.commands.slide_bench import main

if __name__ == "__main__":
    sys.exit(main())
