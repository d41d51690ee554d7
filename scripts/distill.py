"""Alias of ``pathfm distill``: same arguments, same behaviour."""

import sys

from pathfm.commands.distill import main

if __name__ == "__main__":
    sys.exit(main())
