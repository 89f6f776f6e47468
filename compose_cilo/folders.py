"""Is a folder safe to keep cilo's files in? Checks of modes and owners, no changes:
cilo never chmods a folder it did not create."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def shared(st: os.stat_result) -> bool:
    return bool(st.st_mode & 0o022)


def nearest(path: Path) -> tuple[Path, os.stat_result | None]:
    """The path itself or its nearest ancestor that exists, with its stat."""
    for p in (path, *path.parents):
        try:
            return p, p.stat()
        except FileNotFoundError:
            continue
        except OSError:
            return p, None
    return Path("/"), None


def unsafe_parent(folder: Path, st: os.stat_result, what: str) -> str | None:
    if not stat.S_ISDIR(st.st_mode):
        return f"cannot be used: {folder} is a file, not a folder"
    if shared(st) and not st.st_mode & stat.S_ISVTX:
        return (f"is in {folder}, which other users can write to (mode "
                f"{stat.S_IMODE(st.st_mode):04o}) without the sticky bit, so they could "
                f"replace the {what}; run: chmod +t {folder} (or chmod go-w {folder})")
    return None


def foreign_file(path: Path, what: str) -> str | None:
    """In a shared (sticky) folder, a file already there must be yours."""
    try:
        st = path.lstat()
    except OSError:
        return None
    if st.st_uid != os.geteuid() or stat.S_ISLNK(st.st_mode):
        return (f"is in a shared folder where {path} already exists and is not a file of yours "
                f"(owner {st.st_uid}), so cilo will not use it as its {what}")
    return None
