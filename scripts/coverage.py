"""Alias of ``pathfm coverage``: same arguments, same behaviour."""

import sys

from pathfm.commands.coverage import main

if __name__ == "__main__":
    sys.exit(main())
