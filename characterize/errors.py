"""One exception type for every bad input the toolkit reads.

Every loader (arch, system, model YAML, workloads, traces, configs, checkpoints)
raises :class:`InputError` naming the file and the field or layer at fault, so
that the CLI can print one clear line and exit non-zero.
"""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A user-supplied file or flag is invalid.

    Args:
        path: the file at fault (or a flag name such as ``--qos``).
        field: dotted location inside it (``layers[3].after``), or ``""``.
        message: what is wrong, in words a user can act on.
    """

    def __init__(self, path: str | Path, field: str, message: str):
        self.path = str(path)
        self.field = field
        self.message = message
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + message)


class BackendUnavailable(RuntimeError):
    """A characterisation backend is not installed on this machine."""
