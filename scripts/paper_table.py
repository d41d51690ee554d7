"""Alias of ``pathfm paper-table``: same arguments, same behaviour."""

import sys

from pathfm.commands.paper_table import main

if __name__ == "__main__":
    sys.exit(main())
