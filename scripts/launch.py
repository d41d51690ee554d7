"""Alias of ``pathfm launch``: same arguments, same behaviour."""

import sys

from pathfm.commands.launch import main

if __name__ == "__main__":
    sys.exit(main())
