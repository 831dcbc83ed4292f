"""Write files so that a reader never sees half of one.

An output workbook that is cut off by an error or Ctrl-C is worse than none: Excel
may refuse it, or, worse, open it with rows missing.  Writing to a neighbour file and
renaming it over the target makes the change all-or-nothing, because a rename within
one directory is atomic on every platform Python supports (`os.replace`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a not-yet-existing path next to `path`; it becomes `path` only if the block succeeds.

    The temporary name lives in the target's directory (a rename across file systems
    is not atomic), starts with a dot (hidden while being written) and keeps the
    target's suffix (writers such as openpyxl care about it).  The writer creates the
    file itself, so it gets the usual permissions rather than mkstemp's private ones.
    Any exception, KeyboardInterrupt included, removes the temporary file and leaves
    an existing target untouched.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.tmp{target.suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_workbook(workbook: Any, target: str | Path | BinaryIO) -> None:
    """Save an openpyxl workbook to a file, atomically, or into an open binary stream (a download)."""
    if hasattr(target, "write"):
        workbook.save(target)
        return
    with atomic_path(target) as temporary:
        workbook.save(temporary)
