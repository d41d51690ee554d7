"""Alias of ``pathfm qc-summary``: same arguments, same behaviour."""

import sys

from pathfm.commands.qc_summary import main

if __name__ == "__main__":
    sys.exit(main())
