"""Alias of ``pathfm preflight``: same arguments, same behaviour."""

import sys

from pathfm.commands.preflight import main

if __name__ == "__main__":
    sys.exit(main())
