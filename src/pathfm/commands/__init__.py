"""The steps of the workflow, one module per ``pathfm`` subcommand.

Each module ``pathfm.commands.X`` has a ``main(argv=None) -> int`` and runs as
``pathfm X`` (``_`` spelled ``-``: ``pathfm train-ssl``), ``python -m pathfm X``, or
``pathfm X`` (a thin alias kept for existing command lines). Nothing is
imported here, so that ``pathfm --help`` stays fast.
"""
