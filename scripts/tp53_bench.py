"""Alias of ``pathfm tp53-bench``: same arguments, same behaviour."""

import sys

from pathfm.commands.tp53_bench import main

if __name__ == "__main__":
    sys.exit(main())
