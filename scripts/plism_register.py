"""Alias of ``pathfm plism-register``: same arguments, same behaviour."""

import sys

from pathfm.commands.plism_register import main

if __name__ == "__main__":
    sys.exit(main())
