"""Toy functional problems: "Write a Python function `grow_river(x)` that returns x plus 7."

Why this task: the answer is a fixed-format fenced block in which the model must copy the
function name, the operator and the constant from the prompt. A tiny random-init Qwen2 learns
that in a few hundred optimizer steps on a CPU, so SFT visibly moves accepted@1 on held-out
problems, and every answer is judged by real asserts in the sandbox.

Held-out problems use (first word, second word) name pairs that never occur in training, so a
held-out pass means the model composed a name it has not seen as a whole, not that it recalled one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..data.problem import Problem
from ..errors import ConfigError

# Words that the Qwen tokenizer keeps short; names are "<first>_<second>".
FIRST_WORDS = ("add", "grow", "make", "get", "take", "move", "push", "pull", "lift", "turn", "shift", "mix")
SECOND_WORDS = ("red", "blue", "box", "cat", "dog", "sun", "tree", "river", "stone", "bird", "fish", "star")
# operator word in the prompt -> Python operator in the answer
OPERATORS = {"plus": "+", "minus": "-", "times": "*"}
TEST_INPUTS = (0, 3, -5, 11)

DATASET = "toy_heldout"
PROMPT_STYLE = "toy"  # the template key in configs/demo/prompts.yaml


@dataclass(frozen=True)
class ToyTaskSpec:
    n_train: int = 1600
    n_heldout: int = 40
    # one-digit constants: a 2-layer model learns to copy them within ~100 steps (measured, docs/demo.md)
    max_constant: int = 9
    heldout_pair_share: float = 0.25  # share of name pairs reserved for held-out problems
    seed: int = 1234
    # "words": "Write a Python function `grow_river(x)` that returns x times 7."; "plain": the same without
    # backticks; "plain_symbols": "... grow_river(x) that returns x * 7." (see _prompt for why it matters)
    prompt_form: str = "words"


def _name_pairs(spec: ToyTaskSpec) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split all (first, second) word pairs into train and held-out, deterministically."""
    pairs = [(a, b) for a in FIRST_WORDS for b in SECOND_WORDS]
    rng = random.Random(spec.seed)
    rng.shuffle(pairs)
    n_held = max(1, round(len(pairs) * spec.heldout_pair_share))
    return pairs[n_held:], pairs[:n_held]


def reference_answer(name: str, op_word: str, constant: int) -> str:
    """The canonical assistant message: one fenced block, nothing else."""
    return f"```python\ndef {name}(x):\n    return x {OPERATORS[op_word]} {constant}\n```"


def _apply(op_word: str, x: int, constant: int) -> int:
    return {"plus": x + constant, "minus": x - constant, "times": x * constant}[op_word]


PROMPT_FORMS = ("words", "plain", "plain_symbols")


def _prompt(name: str, op_word: str, constant: int, form: str) -> str:
    # Without backticks the name is tokenized as in the answer (" grow", "_r", "iver"); after "`" it is
    # "grow" (no space), a different token that the model must learn to map, not just copy.
    what = f"x {OPERATORS[op_word]} {constant}" if form == "plain_symbols" else f"x {op_word} {constant}"
    name_part = f"`{name}(x)`" if form == "words" else f"{name}(x)"
    return f"Write a Python function {name_part} that returns {what}."


def _problem(idx: int, split: str, name: str, op_word: str, constant: int, form: str = "words") -> Problem:
    asserts = "\n".join(f"    assert candidate({x}) == {_apply(op_word, x, constant)}" for x in TEST_INPUTS)
    return Problem(
        id=f"toy/{split}/{idx}",
        dataset=DATASET if split == "heldout" else "toy_train",
        kind="functional",
        prompt=_prompt(name, op_word, constant, form),
        source=f"coderl.demo_task (generated, split={split})",
        entry_point=name,
        test_code=f"def check(candidate):\n{asserts}\n",
        reference_code=reference_answer(name, op_word, constant).removeprefix("```python\n").removesuffix("```"),
        meta={"prompt_style": PROMPT_STYLE, "name": name, "op": op_word, "constant": constant, "split": split},
    ).with_hash()


def make_toy_problems(spec: ToyTaskSpec = ToyTaskSpec()) -> tuple[list[Problem], list[Problem]]:
    """(train, heldout) problems; deterministic for a given spec."""
    if spec.n_train < 1 or spec.n_heldout < 1 or spec.max_constant < 2:
        raise ConfigError(f"toy task spec {spec}: n_train and n_heldout must be >= 1 and max_constant >= 2")
    if spec.prompt_form not in PROMPT_FORMS:
        raise ConfigError(f"toy task spec {spec}: prompt_form must be one of {PROMPT_FORMS}")
    train_pairs, held_pairs = _name_pairs(spec)
    rng = random.Random(spec.seed + 1)
    constants = range(2, spec.max_constant + 1)

    def draw(pairs: list[tuple[str, str]], n: int, split: str) -> list[Problem]:
        # distinct (name, op, constant) combinations: no duplicate rows for prepare_sft to refuse
        combos = [(f"{a}_{b}", op, k) for a, b in pairs for op in sorted(OPERATORS) for k in constants]
        if n > len(combos):
            raise ConfigError(
                f"toy task spec {spec}: {n} {split} problems requested but only {len(combos)} distinct "
                "ones exist; lower the count or raise max_constant"
            )
        return [_problem(i, split, *c, form=spec.prompt_form) for i, c in enumerate(rng.sample(combos, n))]

    return draw(train_pairs, spec.n_train, "train"), draw(held_pairs, spec.n_heldout, "heldout")
