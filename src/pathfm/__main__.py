"""``python -m pathfm <subcommand> args…``, the same as the ``pathfm`` command."""

import sys

from pathfm.cli import main

if __name__ == "__main__":
    sys.exit(main())
