"""Noticing that a configuration file changed, so it can be re-read without a restart.

A file's modification time alone can miss a change: two writes within one tick of the
file system's clock leave the same mtime, and a rotated key has the same length as the
old one. So, as git does for its index, a file whose mtime is recent when it was read is
"racy": its content hash is checked again on the next look, until it has been still for
long enough that a further write must change its mtime.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

RACY_WINDOW_NS = 2_000_000_000  # coarser than any file system clock this runs on


@dataclass(frozen=True)
class _Seen:
    mtime_ns: int
    size: int
    inode: int
    digest: str
    racy: bool


class WatchedFile:
    """`changed()` is true when the file's content differs from what `read()` last returned."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: _Seen | None = None

    def read(self) -> bytes:
        """The file's content, remembered as the version now in use. Raises OSError."""
        st = self.path.stat()
        data = self.path.read_bytes()
        racy = time.time_ns() - st.st_mtime_ns < RACY_WINDOW_NS
        self._seen = _Seen(st.st_mtime_ns, st.st_size, st.st_ino, hashlib.sha256(data).hexdigest(), racy)
        return data

    def changed(self) -> bool:
        """Whether the file now differs from the last `read()`; a missing file is a change."""
        seen = self._seen
        if seen is None:
            return True
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        if (st.st_mtime_ns, st.st_size, st.st_ino) != (seen.mtime_ns, seen.size, seen.inode):
            return True
        if not seen.racy:
            return False
        try:
            digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return True
        if digest != seen.digest:
            return True
        if time.time_ns() - st.st_mtime_ns >= RACY_WINDOW_NS:
            # Still the same content, and old enough now that a new write must move the mtime.
            self._seen = _Seen(seen.mtime_ns, seen.size, seen.inode, seen.digest, racy=False)
        return False
