"""Alias of ``pathfm download-slide``: same arguments, same behaviour."""

import sys

from pathfm.commands.download_slide import main

if __name__ == "__main__":
    sys.exit(main())
