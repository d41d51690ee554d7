"""Alias of ``pathfm embed-plism``: same arguments, same behaviour."""

import sys

from pathfm.commands.embed_plism import main

if __name__ == "__main__":
    sys.exit(main())
