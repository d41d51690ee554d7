"""Alias of ``pathfm hest-bench``: same arguments, same behaviour."""

import sys

from pathfm.commands.hest_bench import main

if __name__ == "__main__":
    sys.exit(main())
