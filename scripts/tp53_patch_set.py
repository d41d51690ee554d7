"""Alias of ``pathfm tp53-patch-set``: same arguments, same behaviour."""

import sys

from pathfm.commands.tp53_patch_set import main

if __name__ == "__main__":
    sys.exit(main())
