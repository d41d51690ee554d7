"""Alias of ``pathfm export-hub-weights``: same arguments, same behaviour."""

import sys

from pathfm.commands.export_hub_weights import main

if __name__ == "__main__":
    sys.exit(main())
