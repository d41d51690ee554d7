"""pathfm: reproduce pathology foundation-model papers end to end."""

from pathfm.version import __version__, code_version

__all__ = ["__version__", "code_version"]
