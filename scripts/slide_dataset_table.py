"""Alias of ``pathfm slide-dataset-table``: same arguments, same behaviour."""

import sys

from pathfm.commands.slide_dataset_table import main

if __name__ == "__main__":
    sys.exit(main())
