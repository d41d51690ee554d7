"""Alias of ``pathfm fetch-dataset``: same arguments, same behaviour."""

import sys

from pathfm.commands.fetch_dataset import main

if __name__ == "__main__":
    sys.exit(main())
