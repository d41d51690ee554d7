"""Alias of ``pathfm wsi-subset``: same arguments, same behaviour."""

import sys

from pathfm.commands.wsi_subset import main

if __name__ == "__main__":
    sys.exit(main())
