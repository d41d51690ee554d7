"""Alias of ``pathfm freeze-manifest``: same arguments, same behaviour."""

import sys

from pathfm.commands.freeze_manifest import main

if __name__ == "__main__":
    sys.exit(main())
