"""Alias of ``pathfm synth-plism``: same arguments, same behaviour."""

import sys

from pathfm.commands.synth_plism import main

if __name__ == "__main__":
    sys.exit(main())
