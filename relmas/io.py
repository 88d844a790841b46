"""Atomic file output: write to a temporary file in the same folder, then rename.

A killed or failed command therefore never leaves a partial output behind. An
output path that cannot be a file (an existing folder, or a file in the way of its
folder) is an :class:`~characterize.errors.InputError` naming it, not an OSError
traceback; the commands check their output flags up front as well
(:func:`relmas.cli.common.output_file`).
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from characterize.errors import InputError


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "", "is a folder; cannot write a file there")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(path, "", "cannot make its folder: a file is in the way") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates the file 0600; give the output the permissions of a normally created file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    """Atomically write text."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write JSON (indented, keys in insertion order)."""
    write_text(path, json.dumps(obj, indent=2) + "\n")


def write_yaml(path: str | Path, obj: Any) -> None:
    """Atomically write YAML (block style, keys in insertion order)."""
    write_text(path, yaml.safe_dump(obj, sort_keys=False, default_flow_style=None, width=120))


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's content, read in 1 MiB chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_csv(path: str | Path, **kwargs: Any) -> Any:
    """``pandas.read_csv(path)``; an :class:`InputError` naming the file when it is missing or unreadable."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "", "file not found")
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, "", f"not a readable CSV: {first[:200]}") from None
