"""Alias of ``pathfm build-demo-dataset``: same arguments, same behaviour."""

import sys

from pathfm.commands.build_demo_dataset import main

if __name__ == "__main__":
    sys.exit(main())
