"""One declaration of a record's fields: the dataclass. This codec maps it to and from
an SQLite row and a JSON object (what the Redis backend stores) or a Redis hash.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``bytes``, ``X | None``,
``tuple[str, ...]`` and ``Literal[...]`` of strings. On the way in (SQLite), ``bytes``
are a BLOB, ``bool`` an INTEGER 0/1 and ``tuple[str, ...]`` the JSON text of a list; in
JSON, ``bytes`` are standard base64 (with padding) and a tuple is a list.

Reading is strict: a missing or extra field, a value of the wrong type (a ``bool`` for
an ``int``, a float for an ``int``, a string outside its ``Literal``, base64 that does
not decode) raises :class:`store.errors.CorruptRecord`, never a default. The message
names the record type and the field, never the value (which may be personal).

Fields kept beside the record (a mutable state in its own Redis key) are left out of
the JSON with ``exclude`` and given back to :meth:`Codec.from_json` as ``extra``: they
are checked like the others.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, Protocol, TypeVar, Union, get_args, get_origin
from typing import get_type_hints as _hints

from store.errors import CorruptRecord

__all__ = ["Codec", "Row"]

R = TypeVar("R")

#: Turns a stored value into a field value; raises ``_Bad`` when it does not fit.
_Read = Callable[[object], object]
_Write = Callable[[object], object]


class _Bad(Exception):
    """A value does not fit its field (turned into :class:`CorruptRecord` with the name)."""


class Row(Protocol):
    """What the codec reads from an SQLite row: values by position (``sqlite3.Row`` or a
    tuple), in the order of :attr:`Codec.columns`."""

    def __getitem__(self, index: int, /) -> Any: ...
    def __len__(self) -> int: ...


def _str(value: object) -> object:
    if type(value) is not str:
        raise _Bad
    return value


def _int(value: object) -> object:
    if type(value) is not int:  # bool is not an int here
        raise _Bad
    return value


def _float(value: object) -> object:
    if type(value) is int:
        return float(value)
    if type(value) is not float or not math.isfinite(value):
        raise _Bad
    return value


def _bool_json(value: object) -> object:
    if type(value) is not bool:
        raise _Bad
    return value


def _bool_row(value: object) -> object:
    if type(value) is not int or value not in (0, 1):
        raise _Bad
    return bool(value)


def _bytes_row(value: object) -> object:
    if type(value) is not bytes:
        raise _Bad
    return value


def _bytes_json(value: object) -> object:
    if type(value) is not str:
        raise _Bad
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _Bad from None
    if base64.b64encode(decoded).decode("ascii") != value:  # one spelling per value
        raise _Bad
    return decoded


def _str_tuple(value: object) -> object:
    if type(value) is not list or any(type(item) is not str for item in value):
        raise _Bad
    return tuple(value)


def _str_tuple_row(value: object) -> object:
    if type(value) is not str:
        raise _Bad
    try:
        parsed = json.loads(value)
    except ValueError:
        raise _Bad from None
    return _str_tuple(parsed)


def _literal(allowed: tuple[object, ...]) -> _Read:
    def read(value: object) -> object:
        if type(value) is not str or value not in allowed:
            raise _Bad
        return value

    return read


def _optional(inner: _Read) -> _Read:
    def read(value: object) -> object:
        return None if value is None else inner(value)

    return read


def _same(value: object) -> object:
    return value


def _b64(value: object) -> object:
    assert isinstance(value, bytes | bytearray | memoryview)
    return base64.b64encode(bytes(value)).decode("ascii")


def _as_bytes(value: object) -> object:
    assert isinstance(value, bytes | bytearray | memoryview)
    return bytes(value)


def _list(value: object) -> object:
    assert isinstance(value, tuple | list)
    return list(value)


def _json_list(value: object) -> object:
    assert isinstance(value, tuple | list)
    return json.dumps(list(value))


def _bool_int(value: object) -> object:
    return int(bool(value))


def _converters(hint: object, where: str) -> tuple[_Read, _Read, _Write, _Write]:
    """(read a row value, read a JSON value, write a row value, write a JSON value)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) != 1 or len(get_args(hint)) != 2:
            raise TypeError(f"{where}: only X | None unions are supported")
        row, js, wrow, wjs = _converters(args[0], where)

        def optional_write(write: _Write) -> _Write:
            return lambda v: None if v is None else write(v)

        return _optional(row), _optional(js), optional_write(wrow), optional_write(wjs)
    if origin is Literal:
        allowed = get_args(hint)
        if not all(type(a) is str for a in allowed):
            raise TypeError(f"{where}: only Literal strings are supported")
        return _literal(allowed), _literal(allowed), _same, _same
    if origin is tuple:
        if get_args(hint) != (str, ...):
            raise TypeError(f"{where}: only tuple[str, ...] is supported")
        return _str_tuple_row, _str_tuple, _json_list, _list
    if hint is str:
        return _str, _str, _same, _same
    if hint is bool:
        return _bool_row, _bool_json, _bool_int, _same
    if hint is int:
        return _int, _int, _same, _same
    if hint is float:
        return _float, _float, _same, _same
    if hint is bytes:
        return _bytes_row, _bytes_json, _as_bytes, _b64
    raise TypeError(f"{where}: unsupported field type {hint!r}")


def _simple(read: _Read) -> type | None:
    """The one type a reader only checks for (so the codec checks it inline), or None."""
    simple: dict[_Read, type] = {_str: str, _int: int, _bool_json: bool}
    return simple.get(read)


class Codec(Generic[R]):
    """The mapping of one frozen dataclass ``cls`` to rows, JSON and hashes.

    Built once per record type at import (it raises :class:`TypeError` for a field type
    it does not support, so a new record with an unsupported field fails at once). The
    per-field work is planned here, so that reading a record is one loop of type checks
    and building it one positional call.
    """

    def __init__(self, cls: type[R]) -> None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        fields = dataclasses.fields(cls)
        if any(not f.init or f.kw_only for f in fields):
            raise TypeError(f"{cls!r}: every field must be a positional __init__ argument")
        self.cls = cls
        self.name = cls.__name__
        hints = _hints(cls)
        self.fields: tuple[str, ...] = tuple(f.name for f in fields)
        convs = [_converters(hints[name], f"{self.name}.{name}") for name in self.fields]
        self._row_plan = tuple((_simple(c[0]), c[0]) for c in convs)
        self._json_plan = tuple(
            (name, _simple(c[1]), c[1]) for name, c in zip(self.fields, convs, strict=True)
        )
        self._write_row = tuple(None if c[2] is _same else c[2] for c in convs)
        self._write_json = {
            name: None if c[3] is _same else c[3]
            for name, c in zip(self.fields, convs, strict=True)
        }
        self._json_writers: dict[tuple[str, ...], tuple[tuple[str, _Write | None], ...]] = {}
        self._nullable = tuple(name for name in self.fields if type(None) in get_args(hints[name]))
        #: The column list, in field order: ``"a, b, c"``.
        self.columns = ", ".join(self.fields)

    def _bad(self, name: str) -> CorruptRecord:
        return CorruptRecord(f"a stored {self.name} has a bad {name!r}")

    # -- SQLite ----------------------------------------------------------------------------

    def select(self, table: str) -> str:
        """``SELECT <the fields> FROM <table>``: add the WHERE / ORDER BY clauses."""
        return f"SELECT {self.columns} FROM {table}"  # noqa: S608  # names from code only

    def insert(self, table: str, verb: str = "INSERT") -> str:
        """``<verb> INTO <table> (<the fields>) VALUES (?, …)``; ``verb`` may be
        ``INSERT OR REPLACE`` or ``INSERT OR IGNORE``."""
        marks = ", ".join("?" for _ in self.fields)
        return f"{verb} INTO {table} ({self.columns}) VALUES ({marks})"

    def to_row(self, record: R) -> tuple[object, ...]:
        """The parameters of :meth:`insert`, in field order."""
        return tuple(
            getattr(record, name) if write is None else write(getattr(record, name))
            for name, write in zip(self.fields, self._write_row, strict=True)
        )

    def from_row(self, row: Row) -> R:
        """The record from a row selected by :meth:`select`. Raises CorruptRecord."""
        if len(row) != len(self.fields):
            raise CorruptRecord(
                f"a stored {self.name} has {len(row)} columns, not {len(self.fields)}"
            )
        values: list[object] = []
        for i, (simple, read) in enumerate(self._row_plan):
            value = row[i]
            if simple is not None:
                if type(value) is not simple:
                    raise self._bad(self.fields[i])
            else:
                try:
                    value = read(value)
                except _Bad:
                    raise self._bad(self.fields[i]) from None
            values.append(value)
        return self.cls(*values)

    # -- JSON (Redis strings and hash values) ------------------------------------------------

    def to_dict(self, record: R, exclude: tuple[str, ...] = ()) -> dict[str, object]:
        """The JSON-ready fields of ``record``, in field order, without ``exclude``."""
        plan = self._json_writers.get(exclude)
        if plan is None:
            plan = tuple((n, self._write_json[n]) for n in self.fields if n not in exclude)
            self._json_writers[exclude] = plan
        return {
            name: getattr(record, name) if write is None else write(getattr(record, name))
            for name, write in plan
        }

    def to_json(self, record: R, exclude: tuple[str, ...] = ()) -> bytes:
        """The UTF-8 JSON text of :meth:`to_dict` (non-ASCII kept as UTF-8)."""
        return json.dumps(self.to_dict(record, exclude), ensure_ascii=False).encode("utf-8")

    def from_dict(self, data: object, extra: Mapping[str, object] | None = None) -> R:
        """The record from a parsed JSON object plus ``extra`` fields kept elsewhere.

        Every field must be given exactly once (in ``data`` or ``extra``) and fit.
        """
        if type(data) is not dict:
            raise CorruptRecord(f"a stored {self.name} is not a JSON object")
        merged: dict[str, object] = data
        if extra:
            if not data.keys().isdisjoint(extra):
                raise CorruptRecord(f"a stored {self.name} holds a field twice")
            merged = {**data, **extra}
        if len(merged) != len(self.fields):
            raise CorruptRecord(f"a stored {self.name} does not have the fields of one")
        values: list[object] = []
        for name, simple, read in self._json_plan:
            try:
                value = merged[name]
            except KeyError:
                raise CorruptRecord(f"a stored {self.name} has no {name!r}") from None
            if simple is not None:
                if type(value) is not simple:
                    raise self._bad(name)
            else:
                try:
                    value = read(value)
                except _Bad:
                    raise self._bad(name) from None
            values.append(value)
        return self.cls(*values)

    def from_json(self, blob: bytes | str, extra: Mapping[str, object] | None = None) -> R:
        """The record from :meth:`to_json` text plus ``extra``. Raises CorruptRecord."""
        try:
            data = json.loads(blob)
        except (ValueError, UnicodeDecodeError):
            raise CorruptRecord(f"a stored {self.name} is not JSON") from None
        return self.from_dict(data, extra)

    # -- Redis hashes (one field per hash field) ---------------------------------------------

    def to_hash(self, record: R, exclude: tuple[str, ...] = ()) -> dict[str, bytes]:
        """One hash field per record field: each value the JSON of that field alone
        (``None`` fields are left out of the hash)."""
        return {
            name: json.dumps(value, ensure_ascii=False).encode("utf-8")
            for name, value in self.to_dict(record, exclude).items()
            if value is not None
        }

    def from_hash(
        self, mapping: Mapping[bytes, bytes], extra: Mapping[str, object] | None = None
    ) -> R:
        """The record from :meth:`to_hash` (an absent field is None only where the
        field may be None). Raises CorruptRecord."""
        data: dict[str, object] = {}
        try:
            for key, value in mapping.items():
                data[key.decode("utf-8")] = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            raise CorruptRecord(f"a stored {self.name} hash holds a value not JSON") from None
        for name in self._nullable:
            if name not in data and not (extra and name in extra):
                data[name] = None
        return self.from_dict(data, extra)
