"""Strict pydantic models shared by every package: the base, the bilingual name, and the
one way a validation failure becomes a stable, one-line refusal.

Every model is ``strict`` (no coercion: ``"3"`` is not 3, ``true`` is not 1), forbids
unknown members and is frozen. A :class:`pydantic.ValidationError` never leaves a
package as it is: :func:`refusal` turns its first error into one line naming the field
(``issuers[0].jwks.keys``) and the rule broken, never echoing the value (values may be
personal data, and messages reach logs and HTTP problem documents); the caller raises
its own error class with it, so every refusal keeps its code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

#: The configuration of every model: strict types, no unknown members, immutable.
STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
#: A path element longer than this is cut (a member name is attacker-chosen text).
_MAX_LOC = 64


class StrictModel(BaseModel):
    """Base of the project's pydantic models (see :data:`STRICT`)."""

    model_config = STRICT


class LocalizedName(StrictModel):
    """A name in Chinese and English: the one bilingual type (trust list, catalogue, API).

    Its JSON form is ``{"zh": …, "en": …}``; ``name["zh"]`` reads it like that form,
    and it equals that form (a mapping with exactly those two members and values).
    """

    zh: str
    en: str

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(other) == {"zh": self.zh, "en": self.en}
        return super().__eq__(other)

    __hash__ = StrictModel.__hash__

    def __getitem__(self, lang: Literal["zh", "en"]) -> str:
        if lang == "zh":
            return self.zh
        if lang == "en":
            return self.en
        raise KeyError(lang)

    def to_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"zh": self.zh, "en": self.en}


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("issuers", 0, "jwks")`` → ``"issuers[0].jwks"`` (long names cut)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if len(part) <= _MAX_LOC else part[:_MAX_LOC] + "…"
            out += f".{name}" if out else name
    return out


def first_error(err: ValidationError) -> tuple[str, str]:
    """The field path and the rule of the first error of ``err`` (no input value).

    pydantic's messages state the rule ("Input should be a valid integer", "Extra
    inputs are not permitted", "Field required"), never the input; a validator of ours
    raises ``ValueError`` with a message that names no value either.
    """
    first = err.errors(include_url=False, include_input=False, include_context=False)[0]
    return field_path(tuple(first["loc"])), str(first["msg"]).removeprefix("Value error, ")


def refusal(err: ValidationError, where: str) -> str:
    """One line for the first error of ``err``: ``"<where>: <field>: <rule>"``."""
    path, message = first_error(err)
    return f"{where}: {path}: {message}" if path else f"{where}: {message}"
