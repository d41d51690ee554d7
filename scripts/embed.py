"""Alias of ``pathfm embed``: same arguments, same behaviour."""

import sys

from pathfm.commands.embed import main

if __name__ == "__main__":
    sys.exit(main())
