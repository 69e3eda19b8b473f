"""GRPO-like answer groups for stdio problems with a known solution (bench and agreement tests).

A policy's group of n answers to one problem mixes the right program in several presentations,
wrong programs, crashes, programs that never end and answers without runnable Python. Every
answer is a full chat-style reply (prose + markdown fences), as the reward receives it.
None of them allocates much memory or touches the host: verl's prime_code runs answers without
isolation in the same benchmark.
"""

from __future__ import annotations

# (kind, expected to be accepted when the known solution is) in the order a group cycles through.
KINDS = (
    "known_fenced",
    "wrong_first_token",
    "known_prose_after",
    "crash",
    "known_unfenced",
    "wrong_zero",
    "no_code",
    "known_fenced",
    "syntax_error",
    "wrong_echo",
    "exit_early",
    "known_with_usage",
    "other_language",
    "known_fenced",
    "crash_value",
    "wrong_first_token",
)
TIMEOUT_KIND = "timeout"

_TEMPLATES = {
    "known_fenced": "Here is a solution.\n\n```python\n{sol}\n```\n",
    "known_prose_after": "```python\n{sol}\n```\n\nThe program reads the input, computes the answer and prints it.",
    "known_unfenced": "{sol}",
    "known_with_usage": (
        "Solution:\n\n```python\n{sol}\n```\n\nExample usage:\n\n```python\n"
        "# run it as: python solution.py < input.txt\nprint('see above')\n```\n"
    ),
    "wrong_first_token": "```python\nimport sys\ndata = sys.stdin.read().split()\nprint(data[0] if data else 0)\n```",
    "wrong_zero": "Simple approach:\n```python\nimport sys\nsys.stdin.read()\nprint(0)\n```",
    "wrong_echo": "```python\nimport sys\nsys.stdout.write(sys.stdin.read()[::-1])\n```",
    "crash": "```python\nimport sys\nn = len(sys.stdin.readline())\nprint(1 // (n - n))\n```",
    "crash_value": "```python\nimport sys\nvals = list(map(int, sys.stdin.read().split()))\nprint(vals[len(vals)])\n```",
    "syntax_error": "```python\ndef solve(:\n    n = int(input())\n    print(n\n```",
    "exit_early": "```python\nimport sys\ndef main():\n    sys.exit(0)\nmain()\n```",
    "no_code": "This problem can be solved greedily: sort the values and take the best prefix. "
    "The complexity is O(n log n).",
    "other_language": "```cpp\n#include <iostream>\nint main() { int n; std::cin >> n; std::cout << n; }\n```",
    "timeout": "```python\nimport sys\ndata = sys.stdin.read()\nwhile True:\n    pass\n```",
}


def answer(kind: str, solution: str) -> str:
    return _TEMPLATES[kind].replace("{sol}", solution.strip("\n"))


def group(solution: str, n: int, *, with_timeout: bool = False) -> list[tuple[str, str]]:
    """n (kind, answer text) pairs; with_timeout replaces the last one by a program that never ends."""
    kinds = [KINDS[i % len(KINDS)] for i in range(n)]
    if with_timeout and kinds:
        kinds[-1] = TIMEOUT_KIND
    return [(k, answer(k, solution)) for k in kinds]
