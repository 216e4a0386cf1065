"""Reading plain dicts (from YAML or JSON) into the on-call cores, naming the field of any
problem (``layers[0].rotation.length``). Shared by schedules and escalation policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.errors import InvalidInput


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def mapping(value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"expected an object, got {type(value).__name__}", field=path or None)
    for key in value:
        if key not in allowed:
            raise InvalidInput(f"unknown field {key!r}; expected one of {sorted(allowed)}",
                               field=join(path, str(key)))
    return value


def required(data: Mapping[str, Any], key: str, path: str) -> Any:
    if data.get(key) is None:
        raise InvalidInput(f"{key} is required", field=join(path, key))
    return data[key]


def as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"expected a list, got {type(value).__name__}", field=path)
    return list(value)
