"""N-gram decontamination of SFT and RL data against the eval sets' prompts.

A row is contaminated by an eval problem when it contains at least `min_overlap` of that problem's
word n-grams. Prompts shorter than n words count as one n-gram if they have at least MIN_WORDS
words; such a prompt matches a row that contains its whole word sequence. N-grams that occur in more than MAX_PROBLEMS_PER_GRAM eval problems are boilerplate ("the
first line contains a single integer t") and ignored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from .dedup import words
from .problem import Problem

MIN_WORDS = 8
MAX_PROBLEMS_PER_GRAM = 2


def ngrams(text: str, n: int) -> set[str]:
    w = words(text)
    if len(w) < n:
        return {" ".join(w)} if len(w) >= MIN_WORDS else set()
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


@dataclass
class Hit:
    row_id: str
    dataset: str
    problem_id: str
    overlap: float


class EvalIndex:
    def __init__(self, problems: list[Problem], n: int = 13) -> None:
        self.n = n
        self.problems = problems
        per_problem = [ngrams(p.prompt, n) for p in problems]
        # prompts shorter than n words: matched as a whole word sequence (" w1 w2 ... ")
        self.short = [
            (k, " " + next(iter(g)) + " ")
            for k, g in enumerate(per_problem)
            if len(g) == 1 and len(next(iter(g)).split()) < n
        ]
        df = Counter(g for grams in per_problem for g in grams)
        self.index: dict[str, list[int]] = defaultdict(list)
        self.sizes: list[int] = []
        for k, grams in enumerate(per_problem):
            kept = [g for g in grams if df[g] <= MAX_PROBLEMS_PER_GRAM]
            self.sizes.append(len(kept))
            for g in kept:
                self.index[g].append(k)

    def hits(self, row_id: str, text: str, min_overlap: float) -> list[Hit]:
        counts: Counter[int] = Counter()
        if self.short:
            joined = " " + " ".join(words(text)) + " "
            for k, seq in self.short:
                if seq in joined:
                    counts[k] = self.sizes[k]
        for g in ngrams(text, self.n):
            for k in self.index.get(g, ()):
                counts[k] += 1
        out = []
        for k, c in sorted(counts.items()):
            frac = min(1.0, c / self.sizes[k]) if self.sizes[k] else 0.0
            if frac >= min_overlap:
                p = self.problems[k]
                out.append(Hit(row_id, p.dataset, p.id, round(frac, 3)))
        return out


def load_eval_sets(eval_sets: list[str] | None, raw_dir, manifests_dir, contamination: dict, cfg=None) -> list[Problem]:
    """The eval problems to decontaminate against (prepare-sft and prepare-rl alike).

    None = every eval set of the config that is not a stand-in. Each set is recorded in
    `contamination` as checked or not (with why): a set that cannot be loaded is reported, not fatal.
    """
    from ..config import load_eval_config
    from ..errors import DataError
    from .registry import load_eval_problems

    cfg = cfg or load_eval_config()
    names = eval_sets if eval_sets is not None else [n for n, s in cfg.datasets.items() if not (s or {}).get("standin")]
    problems: list[Problem] = []
    for name in names:
        try:
            ps = load_eval_problems(name, raw_dir, manifests_dir)
        except DataError as e:
            contamination[name] = {"checked": False, "reason": str(e), "rows": []}
            continue
        contamination[name] = {"checked": True, "problems": len(ps), "rows": []}
        problems += ps
    return problems
