"""Alias of ``pathfm segmentation-bench``: same arguments, same behaviour."""

import sys

from pathfm.commands.segmentation_bench import main

if __name__ == "__main__":
    sys.exit(main())
