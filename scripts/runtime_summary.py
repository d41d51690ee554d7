"""Alias of ``pathfm runtime-summary``: same arguments, same behaviour."""

import sys

from pathfm.commands.runtime_summary import main

if __name__ == "__main__":
    sys.exit(main())
