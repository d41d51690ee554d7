"""Alias of ``pathfm slide-shard``: same arguments, same behaviour."""

import sys

from pathfm.commands.slide_shard import main

if __name__ == "__main__":
    sys.exit(main())
