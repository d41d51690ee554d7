"""Errors for slides that cannot be used; each names the file and what to do."""

from __future__ import annotations

from pathlib import Path


class SlideError(RuntimeError):
    """Base class: a slide file that a stage cannot read."""

    def __init__(self, path: str | Path, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. {fix}")


class SlideOpenError(SlideError):
    """Not a slide openslide can open (wrong format, unreadable header)."""


class SlideTruncatedError(SlideError):
    """The file ends before the image data its header points to."""


class MissingMppError(SlideError):
    """No microns-per-pixel in the file, its TIFF tags, or the manifest."""


class SlideReadError(SlideError):
    """Pixel data that cannot be decoded: a corrupt tile somewhere inside the file."""
