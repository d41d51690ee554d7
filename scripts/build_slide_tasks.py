"""Alias of ``pathfm build-slide-tasks``: same arguments, same behaviour."""

import sys

from pathfm.commands.build_slide_tasks import main

if __name__ == "__main__":
    sys.exit(main())
