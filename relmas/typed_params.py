"""Type checks of scheduler parameters from their constructors' annotations.

Scheduler parameters come from YAML (the configuration's ``schedulers.<name>``
section, ``--param KEY=VALUE``, ``train.imitate_args``), which gives any scalar:
``generations=2.5`` would run 2 generations, ``generations=true`` one,
``charge_overhead=maybe`` would count as true, and ``generations=abc`` failed
deep inside with "'<' not supported between instances of 'str' and 'int'".
:func:`checked_params` decorates a scheduler class so that every keyword
argument of its constructor is checked against the constructor's annotation
first, raising :class:`ParamError` (a :class:`ValueError`) such as
``generations must be an integer, got '2.5'``.

Annotations made only of ``int``, ``float``, ``bool``, ``str``, ``None``,
``Path`` and ``Literal[...]`` are checked; a parameter whose annotation holds
anything else (``Sequence[float]``, a class, ``Any``) is left to the
constructor. An int is a valid float; a bool is not a number; a float must be
finite. Where a float is expected, a string such as ``1e-3`` (a number in
exponent notation without a dot, which PyYAML, following YAML 1.1, reads as
text) is taken as that number; other strings (``"0.05"`` quoted) are refused.
Plug-in schedulers can use the decorator too.
"""
from __future__ import annotations

import functools
import math
import numbers
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Callable, Literal, TypeVar, Union

import numpy as np


class ParamError(ValueError):
    """A scheduler parameter has the wrong type; ``param`` names it."""

    def __init__(self, param: str, message: str):
        self.param = param
        self.message = message
        super().__init__(message)


#: Numbers that YAML 1.1 (PyYAML) reads as strings: exponent notation without a dot.
_YAML_TEXT_NUMBER = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+")

_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null",
          Path: "a path"}


def _atoms(annotation: Any) -> list[Any] | None:
    """The members of a union annotation, or None when one of them is a type this module does not check."""
    origin = typing.get_origin(annotation)
    members = typing.get_args(annotation) if origin in (Union, types.UnionType) else (annotation,)
    out = []
    for m in members:
        if m is None:
            m = type(None)
        if m in _WORDS or typing.get_origin(m) is Literal:
            out.append(m)
        else:
            return None
    return out


def _show(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _accept(atom: Any, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits ``atom``, and the value to pass on (a numeric string becomes a float)."""
    is_bool = isinstance(value, (bool, np.bool_))
    if typing.get_origin(atom) is Literal:
        return any(type(value) is type(a) and value == a for a in typing.get_args(atom)), value
    if atom is bool:
        return is_bool, value
    if atom is int:
        return isinstance(value, numbers.Integral) and not is_bool, value
    if atom is float:
        if isinstance(value, str):
            if not _YAML_TEXT_NUMBER.fullmatch(value.strip()):
                return False, value
            value = float(value)
        return isinstance(value, numbers.Real) and not is_bool and math.isfinite(value), value
    if atom is str:
        return isinstance(value, str), value
    if atom is Path:
        return isinstance(value, (str, os.PathLike)), value
    return value is None, value  # NoneType


def check_param(name: str, annotation: Any, value: Any) -> Any:
    """``value`` (``1e-3`` as text converted where a float is expected) if it fits ``annotation``, else a
    :class:`ParamError` naming ``name``."""
    atoms = _atoms(annotation)
    if atoms is None:
        return value
    for atom in atoms:
        ok, converted = _accept(atom, value)
        if ok:
            return converted
    words = []
    for atom in atoms:
        if typing.get_origin(atom) is Literal:
            words.append("one of " + ", ".join(f"'{_show(a)}'" for a in typing.get_args(atom)))
        else:
            words.append(_WORDS[atom])
    raise ParamError(name, f"{name} must be {' or '.join(words)}, got '{_show(value)}'")


@functools.lru_cache(maxsize=None)
def _hints(func: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # an annotation that does not resolve at run time: nothing to check against
        return {}


def check_params(func: Callable, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` checked against ``func``'s annotations (``1e-3`` as text converted where floats are
    expected); raises :class:`ParamError` for the first one of the wrong type. Unknown names are left to
    ``func``."""
    hints = _hints(func)
    return {k: (check_param(k, hints[k], v) if k in hints else v) for k, v in kwargs.items()}


C = TypeVar("C", bound=type)


def checked_params(cls: C) -> C:
    """Class decorator: check the keyword arguments of ``cls.__init__`` against its annotations."""
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **check_params(init, kwargs))

    cls.__init__ = __init__
    return cls
