"""Alias of ``pathfm rank-models``: same arguments, same behaviour."""

import sys

from pathfm.commands.rank_models import main

if __name__ == "__main__":
    sys.exit(main())
