"""Alias of ``pathfm paper-table-html``: same arguments, same behaviour."""

import sys

from pathfm.commands.paper_table_html import main

if __name__ == "__main__":
    sys.exit(main())
