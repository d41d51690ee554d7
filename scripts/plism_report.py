"""Alias of ``pathfm plism-report``: same arguments, same behaviour."""

import sys

from pathfm.commands.plism_report import main

if __name__ == "__main__":
    sys.exit(main())
