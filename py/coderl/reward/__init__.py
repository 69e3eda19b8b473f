"""Phase 2 reward: the evaluation's judge as verl's verifiable reward (docs/judging.md, "RL reward").

`compute_score` / `compute_score_async` / `compute_score_batch` (verl_entry.py) take verl's custom
reward arguments; `to_ground_truth(problem)` writes the ground_truth string an RL row carries and
`parse_ground_truth` reads it back; `RewardScorer` (scorer.py) does the work; `modes.py` maps a
judge verdict to binary, fraction or pass_plus_fraction rewards.
"""

from .ground_truth import FORMAT, parse_ground_truth, to_ground_truth
from .modes import MODES
from .scorer import RewardScorer, get_scorer
from .verl_entry import compute_score, compute_score_async, compute_score_batch

__all__ = [
    "FORMAT",
    "MODES",
    "RewardScorer",
    "compute_score",
    "compute_score_async",
    "compute_score_batch",
    "get_scorer",
    "parse_ground_truth",
    "to_ground_truth",
]
