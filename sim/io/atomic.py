"""The one way any crcsim output file is written: into a hidden temporary sibling, then renamed
over the target, so a reader never sees half a file and an interrupted write leaves nothing.

Light on purpose (the standard library only): every command that writes a file imports it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends
    without error, removed otherwise. Permissions follow the umask, as for any new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_with(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` (e.g. ``frame.to_parquet``) and rename the result onto ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)


def swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Move a finished directory to ``out_dir``; an existing one is replaced only now."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
