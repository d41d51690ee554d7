"""Alias of ``pathfm synth-slide``: same arguments, same behaviour."""

import sys

from pathfm.commands.synth_slide import main

if __name__ == "__main__":
    sys.exit(main())
