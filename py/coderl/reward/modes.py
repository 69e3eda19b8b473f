"""Reward modes: how one judge Verdict becomes a scalar reward.

binary              1.0 when every test passed (the verdict `make eval` counts as accepted), else 0.0.
                    The judge stops at the first failing test: the rest cannot change the reward.
fraction            tests_passed / tests_total, all tests run (a functional problem is one test).
pass_plus_fraction  1.0 when accepted, else 0.1 x the fraction: partial credit that can never
                    approach a full pass.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..sandbox.types import Verdict

MODES = ("binary", "fraction", "pass_plus_fraction")
PARTIAL_WEIGHT = 0.1


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(
            f"reward mode {mode!r} is not one of {MODES}; set it with "
            f"reward.custom_reward_function.reward_kwargs.mode=binary"
        )
    return mode


def stops_at_first_failure(mode: str) -> bool:
    """Only binary may stop early: the partial modes need every test's outcome."""
    return check_mode(mode) == "binary"


def score(verdict: Verdict, mode: str) -> float:
    check_mode(mode)
    if verdict.accepted:
        return 1.0
    if mode == "binary" or verdict.tests_total <= 0:
        return 0.0
    fraction = verdict.tests_passed / verdict.tests_total
    return fraction if mode == "fraction" else PARTIAL_WEIGHT * fraction
