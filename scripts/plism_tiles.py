"""Alias of ``pathfm plism-tiles``: same arguments, same behaviour."""

import sys

from pathfm.commands.plism_tiles import main

if __name__ == "__main__":
    sys.exit(main())
