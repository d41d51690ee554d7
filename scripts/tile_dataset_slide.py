"""Alias of ``pathfm tile-dataset-slide``: same arguments, same behaviour."""

import sys

from pathfm.commands.tile_dataset_slide import main

if __name__ == "__main__":
    sys.exit(main())
