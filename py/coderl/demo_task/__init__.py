"""The demo's toy task: tiny functional problems a random-init model can learn on a CPU in minutes."""

from .problems import ToyTaskSpec, make_toy_problems, reference_answer

__all__ = ["ToyTaskSpec", "make_toy_problems", "reference_answer"]
