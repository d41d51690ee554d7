"""Alias of ``pathfm mask``: same arguments, same behaviour."""

import sys

from pathfm.commands.mask import main

if __name__ == "__main__":
    sys.exit(main())
