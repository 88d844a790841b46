"""Checkpoints: atomic writes, weights-only loads, clear errors.

Every file is a ``torch.save`` of a dict holding only tensors and plain Python
values (dicts, lists, tuples, str, int, float, bool, None), with a ``format``
and a ``version`` key. It is written to a temporary file in the same folder,
flushed to disk, then renamed over the target, so a killed process (even
``kill -9``) leaves either the old file or the new one, never half of one.
Loading uses ``torch.load(weights_only=True)``: no arbitrary code runs, and a
file holding anything else is refused. Every failure (missing, truncated,
corrupt, foreign, wrong version, wrong shapes) raises
:class:`~characterize.errors.InputError` naming the file.
"""
from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterable

import torch

from characterize.errors import InputError

from .io import atomic_path

#: Version written by this code; loads refuse newer files.
CHECKPOINT_VERSION = 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, fsync, rename).

    ``payload`` must carry a ``format`` string; a ``version`` is added if absent.
    """
    if "format" not in payload:
        raise ValueError("checkpoint payload needs a 'format' key")
    payload = dict(payload)
    payload.setdefault("version", CHECKPOINT_VERSION)
    path = Path(path)
    with atomic_path(path, suffix=".tmp") as tmp:
        with open(tmp, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - some filesystems refuse directory fsync
        pass


#: First bytes of torch.save's legacy (pre-zip) format: a protocol-2 pickle of a 10-byte magic number.
_LEGACY_TORCH_HEADER = b"\x80\x02\x8a\x0a"


def _legacy_torch_file(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(_LEGACY_TORCH_HEADER)) == _LEGACY_TORCH_HEADER


def load_checkpoint(path: str | Path, formats: Iterable[str] | None = None) -> dict[str, Any]:
    """Load a checkpoint with weights-only unpickling.

    Args:
        path: the file.
        formats: accepted values of the ``format`` key (default: any).

    Raises:
        InputError: naming ``path``, if the file is missing, truncated, corrupt,
            holds objects other than tensors and plain containers, is of another
            format, or was written by a newer version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "", "checkpoint not found")
    if path.stat().st_size == 0:
        raise InputError(path, "", "checkpoint is empty (0 bytes): truncated write or wrong file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not zipfile.is_zipfile(path) and not _legacy_torch_file(path):
            raise InputError(path, "", "not a readable torch checkpoint (neither the zip archive torch.save "
                             "writes nor its legacy format): a wrong or damaged file") from None
        if "weights_only" in str(exc) or "Weights only load failed" in str(exc):
            raise InputError(path, "", "refused by weights-only loading: the file holds objects other than "
                             f"tensors and plain containers ({first[:200]})") from None
        raise InputError(path, "", f"corrupt checkpoint (cannot unpickle: {first[:200]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError, AttributeError,
            IndexError, TypeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, "", f"corrupt or truncated checkpoint ({type(exc).__name__}: {msg[:200]})") from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise InputError(path, "format", "not a RELMAS checkpoint (no 'format' key)")
    fmt = payload["format"]
    if formats is not None and fmt not in tuple(formats):
        raise InputError(path, "format", f"is a '{fmt}' file, expected one of: {', '.join(formats)}")
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        raise InputError(path, "version", f"missing or invalid version {version!r}")
    if version > CHECKPOINT_VERSION:
        raise InputError(path, "version", f"written by a newer toolkit (version {version} > {CHECKPOINT_VERSION})")
    return payload


def require(payload: dict[str, Any], path: str | Path, fields: dict[str, type | tuple[type, ...]]) -> None:
    """Raise :class:`InputError` naming ``path`` unless every field is present with the given type."""
    for key, typ in fields.items():
        if key not in payload:
            raise InputError(path, key, "missing from checkpoint")
        if not isinstance(payload[key], typ):
            raise InputError(path, key, f"has type {type(payload[key]).__name__}, expected "
                             f"{getattr(typ, '__name__', str(typ))}")
