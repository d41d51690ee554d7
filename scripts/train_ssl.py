"""Alias of ``pathfm train-ssl``: same arguments, same behaviour."""

import sys

from pathfm.commands.train_ssl import main

if __name__ == "__main__":
    sys.exit(main())
