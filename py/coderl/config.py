"""Load and validate the evaluation config; compute the fingerprint of everything that affects scores.

The eval config (configs/eval.yaml) is the single source of evaluation parameters: generation,
sandbox limits, judging rule, prompt templates (configs/prompts.yaml) and tiers
(configs/datasets.yaml). Other code reads these values from `EvalConfig`, never from literals.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .paths import configs_dir
from .validation import check_value

# A tiny schema language: key -> (type(s), (min, max) or choices or None, required)
_NUM = (int, float)
_EVAL_SCHEMA: dict[str, dict[str, tuple]] = {
    "generation": {
        "temperature": (_NUM, (0.0, 2.0), True),
        "top_p": (_NUM, (0.0, 1.0), True),
        "max_new_tokens": (int, (1, 131072), True),
        "seed": (int, (0, 2**31 - 1), False),
    },
    "sandbox": {
        "run_timeout_s": (_NUM, (0.1, 3600), True),
        "memory_limit_mb": (int, (16, 1 << 20), True),
        "max_output_mb": (_NUM, (0.001, 4096), False),
    },
    "judge": {
        "stdio_compare": (str, ("codecontests", "line", "exact"), True),
        "stop_at_first_failure": (bool, None, False),
    },
    "serving": {
        "gpu_memory_utilization": (_NUM, (0.05, 1.0), False),
        "max_model_len": (int, (128, 1 << 20), False),
        "dtype": (str, ("bfloat16", "float16", "float32", "auto"), False),
        "tensor_parallel_size": (int, (1, 64), False),
        "port": (int, (1, 65535), False),
        "startup_timeout_s": (_NUM, (1, 86400), False),
        "concurrency": (int, (1, 4096), False),
        "request_timeout_s": (_NUM, (1, 86400), False),
        "retries": (int, (0, 100), False),
    },
    "execution": {
        "workers": (int, (0, 1024), False),
        # pre-started bwrap sandboxes reused across executions (a fork each); unset = on where bwrap works
        "sandbox_pool": (bool, None, False),
        "sandbox_pool_max_executions": (int, (1, 1 << 20), False),
        "sandbox_server_concurrency": (int, (1, 4096), False),  # SANDBOX=url1,url2: at once per server
    },
    "guard": {
        "max_sandbox_error_rate": (_NUM, (0.0, 1.0), False),
        "max_generation_failure_rate": (_NUM, (0.0, 1.0), False),
        "max_empty_answer_rate": (_NUM, (0.0, 1.0), False),
    },
    "selection": {
        "primary": (str, ("exec_success_rate", "accepted_at_1"), False),
        "tiebreak": (str, ("exec_success_rate", "accepted_at_1"), False),
        "dataset": (str, None, False),
        "tie_margin": (_NUM, (0.0, 1.0), False),
        "regression_dataset": (str, None, False),
        "regression_threshold_pp": (_NUM, (0.0, 100.0), False),
    },
}
_REQUIRED_SECTIONS = ("generation", "sandbox", "judge")
_FINGERPRINTED_SECTIONS = ("generation", "sandbox", "judge")

_DEFAULTS: dict[str, dict[str, Any]] = {
    "generation": {"seed": 0},
    "sandbox": {"max_output_mb": 64},
    "judge": {"stop_at_first_failure": True},
    "serving": {
        "gpu_memory_utilization": 0.85,
        "max_model_len": 6144,
        "dtype": "bfloat16",
        "tensor_parallel_size": 1,
        "port": 8000,
        "startup_timeout_s": 900,
        "concurrency": 64,
        "request_timeout_s": 900,
        "retries": 3,
    },
    "execution": {"workers": 0},
    "guard": {"max_sandbox_error_rate": 0.02, "max_generation_failure_rate": 0.02, "max_empty_answer_rate": 0.9},
    "selection": {
        "primary": "exec_success_rate",
        "tiebreak": "accepted_at_1",
        "dataset": "codecontests_valid",
        "tie_margin": 0.005,
        "regression_dataset": "humaneval",
        "regression_threshold_pp": 2.0,
    },
}


def _read_yaml(path: Path, what: str) -> Any:
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}; create it (see configs/ in the repository for an example)")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e}); fix the syntax") from None


def validate_eval_dict(raw: Any, source: str) -> dict[str, dict[str, Any]]:
    """Validate types/ranges; return a normalized dict with defaults filled in."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for section in _REQUIRED_SECTIONS:
        if section not in raw:
            raise ConfigError(f"{source}: missing section '{section}' (keys: {', '.join(_EVAL_SCHEMA[section])})")
    known = set(_EVAL_SCHEMA) | {"profile", "prompts", "datasets"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    for section, schema in _EVAL_SCHEMA.items():
        given = raw.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{source}: '{section}' must be a mapping, got {type(given).__name__}")
        bad = sorted(set(given) - set(schema))
        if bad:
            raise ConfigError(f"{source}: unknown key '{section}.{bad[0]}'; allowed: {', '.join(schema)}")
        merged = dict(_DEFAULTS.get(section, {}))
        merged.update(given)
        for key, (types, rule, required) in schema.items():
            where = f"{source}: {section}.{key}"
            if key not in merged:
                if required:
                    raise ConfigError(f"{where}: missing required key")
                continue
            check_value(where, merged[key], types, rule)
        out[section] = merged
    out["profile"] = raw.get("profile", "runbook")
    if not isinstance(out["profile"], str) or not out["profile"]:
        raise ConfigError(f"{source}: profile must be a non-empty string")
    return out


@dataclass(frozen=True)
class EvalConfig:
    """The validated evaluation config. Attribute access mirrors configs/eval.yaml."""

    path: Path
    profile: str
    generation: dict[str, Any]
    sandbox: dict[str, Any]
    judge: dict[str, Any]
    serving: dict[str, Any]
    execution: dict[str, Any]
    guard: dict[str, Any]
    selection: dict[str, Any]
    prompts: dict[str, Any]
    datasets: dict[str, Any]
    tiers: dict[int, list[str]] = field(default_factory=dict)

    def fingerprinted(self) -> dict[str, Any]:
        """Everything that changes a score: generation, limits, judging rule, prompt text, profile, and the
        version of the judge's own rules (judge_rules.py)."""
        from .judge_rules import JUDGE_VERSION

        d = {s: getattr(self, s) for s in _FINGERPRINTED_SECTIONS}
        d["judge_rules"] = JUDGE_VERSION
        d["prompts"] = self.prompts
        d["profile"] = self.profile
        return d

    def fingerprint(self, manifest_hashes: dict[str, str] | None = None, runtime: dict[str, Any] | None = None) -> str:
        """A stable 16-hex-digit id of fingerprinted() plus, if given, the dataset manifest hashes and
        the runtime that changes verdicts (evaluation/runtime.py: sandbox kind, answers' Python,
        serving engine and dtype)."""
        payload = self.fingerprinted()
        if manifest_hashes:
            payload = {**payload, "manifests": dict(sorted(manifest_hashes.items()))}
        if runtime:
            payload = {**payload, "runtime": dict(sorted(runtime.items()))}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def tier_datasets(self, tier: int) -> list[str]:
        if tier not in self.tiers:
            raise ConfigError(
                f"tier {tier!r} is not defined in {self.path.parent / 'datasets.yaml'}; defined: {sorted(self.tiers)}"
            )
        return list(self.tiers[tier])

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "profile": self.profile,
            "generation": self.generation,
            "sandbox": self.sandbox,
            "judge": self.judge,
            "serving": self.serving,
            "execution": self.execution,
            "guard": self.guard,
            "selection": self.selection,
            "prompts": self.prompts,
            "datasets": self.datasets,
            "tiers": {str(k): v for k, v in self.tiers.items()},
        }


def _load_prompts(path: Path) -> dict[str, Any]:
    raw = _read_yaml(path, "prompt templates")
    if not isinstance(raw, dict) or not isinstance(raw.get("templates"), dict) or not raw["templates"]:
        raise ConfigError(f"{path}: expected a 'templates' mapping of kind -> template text")
    for name, text in raw["templates"].items():
        if not isinstance(text, str) or "{prompt}" not in text:
            raise ConfigError(f"{path}: templates.{name} must be a string containing {{prompt}}")
    if "system" in raw and raw["system"] is not None and not isinstance(raw["system"], str):
        raise ConfigError(f"{path}: system must be a string or null")
    return raw


def _load_datasets(path: Path) -> tuple[dict[str, Any], dict[int, list[str]]]:
    raw = _read_yaml(path, "dataset config")
    if not isinstance(raw, dict) or not isinstance(raw.get("datasets"), dict):
        raise ConfigError(f"{path}: expected a 'datasets' mapping of name -> definition")
    datasets = raw["datasets"]
    tiers_raw = raw.get("tiers")
    if not isinstance(tiers_raw, dict) or not tiers_raw:
        raise ConfigError(f"{path}: expected a 'tiers' mapping of tier number -> list of dataset names")
    tiers: dict[int, list[str]] = {}
    for k, names in tiers_raw.items():
        try:
            tier = int(k)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: tiers.{k}: tier keys must be integers") from None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{path}: tiers.{k}: expected a non-empty list of dataset names")
        missing = [n for n in names if n not in datasets]
        if missing:
            raise ConfigError(f"{path}: tiers.{k}: unknown dataset '{missing[0]}'; defined: {', '.join(datasets)}")
        tiers[tier] = names
    return datasets, tiers


def load_eval_config(path: str | Path | None = None) -> EvalConfig:
    """Load configs/eval.yaml (or `path`), its prompts and dataset files; validate; fill defaults."""
    path = Path(path) if path else configs_dir() / "eval.yaml"
    raw = _read_yaml(path, "eval config")
    norm = validate_eval_dict(raw, str(path))
    base = path.parent
    for key in ("prompts", "datasets"):
        if key not in raw or not isinstance(raw[key], str):
            raise ConfigError(f"{path}: '{key}' must name a file relative to {base} (e.g. {key}.yaml)")
    prompts = _load_prompts(base / raw["prompts"])
    datasets, tiers = _load_datasets(base / raw["datasets"])
    return EvalConfig(path=path.resolve(), prompts=prompts, datasets=datasets, tiers=tiers, **norm)
