"""Alias of ``pathfm retrieval-bench``: same arguments, same behaviour."""

import sys

from pathfm.commands.retrieval_bench import main

if __name__ == "__main__":
    sys.exit(main())
