"""What a report was made with: the resolved config and the software versions."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

# The packages whose versions change numbers or formats in this workflow.
PACKAGES = ("pathfm", "snakemake", "torch", "timm", "numpy", "pandas", "scikit-learn",
            "scipy", "zarr", "openslide-python", "SimpleITK", "matplotlib", "safetensors")


def software_versions(packages=PACKAGES) -> list[str]:
    """``name==version`` lines (``name: not installed`` where absent), Python and OS first."""
    lines = [f"python=={platform.python_version()}", f"platform: {platform.platform()}",
             f"executable: {sys.executable}"]
    for name in packages:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{name}: not installed")
    return lines
