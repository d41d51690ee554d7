"""Alias of ``pathfm linear-probe``: same arguments, same behaviour."""

import sys

from pathfm.commands.linear_probe import main

if __name__ == "__main__":
    sys.exit(main())
