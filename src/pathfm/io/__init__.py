"""Small I/O helpers shared by every stage."""

from pathfm.io.atomic import atomic_dir, atomic_path, remove_stale_parts, write_json_atomic
from pathfm.io.hashing import md5_file, sha256_file

__all__ = [
    "atomic_dir", "atomic_path", "md5_file", "remove_stale_parts", "sha256_file",
    "write_json_atomic",
]
