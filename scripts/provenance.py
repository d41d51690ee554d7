"""Alias of ``pathfm provenance``: same arguments, same behaviour."""

import sys

from pathfm.commands.provenance import main

if __name__ == "__main__":
    sys.exit(main())
