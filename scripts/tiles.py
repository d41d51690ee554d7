"""Alias of ``pathfm tiles``: same arguments, same behaviour."""

import sys

from pathfm.commands.tiles import main

if __name__ == "__main__":
    sys.exit(main())
