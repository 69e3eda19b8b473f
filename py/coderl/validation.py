"""One value check for every config loader: type, then range or choices; errors name the key."""

from __future__ import annotations

from typing import Any

from .errors import ConfigError

NoneType = type(None)

_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    NoneType: "null",
}


def type_name(types: Any) -> str:
    types = types if isinstance(types, tuple) else (types,)
    if int in types and float in types:  # "an integer or a number" reads oddly
        types = tuple(t for t in types if t is not int)
    return " or ".join(dict.fromkeys(_NAMES.get(t, getattr(t, "__name__", str(t))) for t in types))


def check_value(where: str, value: Any, types: Any, rule: Any) -> None:
    """Raise ConfigError unless value has one of `types` and satisfies `rule`.

    rule: None, a numeric (lo, hi) range (inclusive), or a collection of allowed values.
    A None value (where NoneType is allowed) skips the rule.
    """
    tuple_types = types if isinstance(types, tuple) else (types,)
    # bool is a subclass of int: refuse True where a number is expected
    if isinstance(value, bool) and bool not in tuple_types:
        raise ConfigError(f"{where}: expected {type_name(tuple_types)}, got a boolean ({value!r})")
    if not isinstance(value, tuple_types):
        raise ConfigError(f"{where}: expected {type_name(tuple_types)}, got {type(value).__name__} ({value!r})")
    if value is None or rule is None:
        return
    if isinstance(rule, tuple) and len(rule) == 2 and all(isinstance(x, (int, float)) for x in rule):
        lo, hi = rule
        if not (lo <= value <= hi):
            raise ConfigError(f"{where}: {value!r} is out of range; allowed {lo} to {hi}")
    elif value not in rule:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, rule))}")
