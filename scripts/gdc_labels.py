"""Alias of ``pathfm gdc-labels``: same arguments, same behaviour."""

import sys

from pathfm.commands.gdc_labels import main

if __name__ == "__main__":
    sys.exit(main())
