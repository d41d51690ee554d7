"""Alias of ``pathfm fetch-weights``: same arguments, same behaviour."""

import sys

from pathfm.commands.fetch_weights import main

if __name__ == "__main__":
    sys.exit(main())
