"""Alias of ``pathfm synth-manifest``: same arguments, same behaviour."""

import sys

from pathfm.commands.synth_manifest import main

if __name__ == "__main__":
    sys.exit(main())
