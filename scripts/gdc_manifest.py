"""Alias of ``pathfm gdc-manifest``: same arguments, same behaviour."""

import sys

from pathfm.commands.gdc_manifest import main

if __name__ == "__main__":
    sys.exit(main())
