"""Alias of ``pathfm tile-dataset-shard``: same arguments, same behaviour."""

import sys

from pathfm.commands.tile_dataset_shard import main

if __name__ == "__main__":
    sys.exit(main())
