"""What the SFT and RL recipes (coderl.training.recipe, coderl.rl.recipe) load and check alike.

A recipe is a YAML mapping (or a dict) that may start from another with `base: <profile or path>`,
then is checked section by section against a schema: section -> key -> (allowed types, range |
choices | None). Each recipe kind keeps its own profile names, schema and cross-key checks.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..validation import check_value

# Sections both recipes share: verl's trainer saves, resumes and logs the same way for SFT and RL.
CHECKPOINT_SCHEMA: dict[str, tuple[Any, Any]] = {
    "dir": (str, None),
    "save_freq": (int, (1, 1 << 30)),
    "test_freq": (int, (-1, 1 << 30)),
    "resume": (str, ("auto", "disable")),
    "save_hf": (bool, None),
    "save_optimizer": (bool, None),
    "max_to_keep": ((int, type(None)), (1, 1 << 20)),
}
LOGGING_SCHEMA: dict[str, tuple[Any, Any]] = {
    "project": (str, None),
    "experiment": (str, None),
    "backends": (list, None),
}


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def read_raw(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def expand_bases(raw: dict, source: str, resolve: Callable[[str], Path], seen: tuple[str, ...] = ()) -> dict:
    """Resolve `base:` chains (resolve: a profile name or path -> the YAML file)."""
    base = raw.get("base")
    if base is None:
        return dict(raw)
    if not isinstance(base, str):
        raise ConfigError(f"{source}: base must be a profile name or a YAML path, got {base!r}")
    base_path = resolve(base)
    key = str(base_path.resolve())
    if key in seen:
        raise ConfigError(f"{source}: base chain loops through {base_path}")
    parent = expand_bases(read_raw(base_path), str(base_path), resolve, (*seen, key))
    merged = deep_merge(parent, {k: v for k, v in raw.items() if k != "base"})
    merged.pop("base", None)
    return merged


def read_recipe(
    path_or_profile: str | Path | dict, resolve: Callable[[str | Path], Path], dict_source: str
) -> tuple[str, dict]:
    """(source, raw recipe with its bases merged in) from a profile name, a YAML path or a dict."""
    if isinstance(path_or_profile, dict):
        return dict_source, expand_bases(path_or_profile, dict_source, resolve)
    path = resolve(path_or_profile)
    return str(path), expand_bases(read_raw(path), str(path), resolve, (str(path.resolve()),))


def check_sections(raw: dict, source: str, schema: dict[str, dict[str, tuple[Any, Any]]]) -> dict[str, Any]:
    """{name, <every section>}: each key present, of its type and range; names the key and file when not."""
    top_keys = {"name", "base", "verl_overrides", *schema}
    unknown = sorted(set(raw) - top_keys - {"source"})
    if unknown:
        raise ConfigError(f"{source}: unknown key '{unknown[0]}'; allowed: {', '.join(sorted(top_keys))}")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name or ""):
        raise ConfigError(f"{source}: name: expected a run name of letters, digits, '_', '.', '-', got {name!r}")
    out: dict[str, Any] = {"name": name}
    for section, keys in schema.items():
        given = raw.get(section)
        if not isinstance(given, dict):
            raise ConfigError(f"{source}: missing section '{section}' (keys: {', '.join(keys)})")
        bad = sorted(set(given) - set(keys))
        if bad:
            raise ConfigError(f"{source}: unknown key '{section}.{bad[0]}'; allowed: {', '.join(keys)}")
        sec: dict[str, Any] = {}
        for key, (types, rule) in keys.items():
            where = f"{source}: {section}.{key}"
            if key not in given:
                raise ConfigError(f"{where}: missing required key")
            check_value(where, given[key], types, rule)
            sec[key] = given[key]
        out[section] = sec
    return out


def verl_overrides(raw: dict, source: str, example: str) -> list[str]:
    """The recipe's extra hydra overrides, passed to verl last (example: one shown in the error)."""
    vo = raw.get("verl_overrides") or []
    if not isinstance(vo, list) or not all(isinstance(x, str) and "=" in x for x in vo):
        raise ConfigError(f"{source}: verl_overrides must be a list of hydra overrides like '{example}'")
    return list(vo)
