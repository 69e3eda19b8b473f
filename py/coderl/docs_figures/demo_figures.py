"""The `make demo` timings of docs/performance.md (docs/bench_demo/: transcribed, raw output not kept)."""

from __future__ import annotations

from . import fmt
from .raw import Raw

DEMO = "bench_demo/2026-11-27_demo_transcribed.json"
PARTS = ("training", "evaluation", "model+data", "report")  # in the order the demo runs them


def _wall(run: dict) -> str:
    s = fmt.bold(f"{run['wall_s']:.1f} s", run.get("headline", False))
    if "parts_s" in run:
        parts = run["parts_s"]
        s += ": " + ", ".join(f"{k} {parts[k]:.1f}" for k in sorted(parts, key=lambda k: (PARTS + (k,)).index(k)))
    elif "user_cpu_s" in run:
        s += f" ({run['user_cpu_s']:.0f} s user CPU)"
    return s + (f"; {run['notes']}" if run.get("notes") else "")


def table(raw: Raw) -> str:
    m = raw.key(DEMO, "record", "machine")
    rows = []
    for i, run in enumerate(raw.key(DEMO, "runs")):
        where = f"{m['cpus']}-core dev VM, {m['mem_gib']} GiB, {run['load']}" if i == 0 else f"same VM, {run['load']}"
        rows.append([run["date"], where, run["what"], _wall(run)])
    return (
        fmt.table(["date", "machine, load", "what", "wall"], rows)
        + f"\n\nRaw (transcribed, output not kept): docs/{DEMO}."
    )


def _role(raw: Raw, role: str) -> float:
    return next(r["wall_s"] for r in raw.key(DEMO, "runs") if r.get("role") == role)


INLINE = {
    "demo.setup_s": lambda raw: f"{_role(raw, 'setup'):.1f}",
    "demo.demo_s": lambda raw: f"{_role(raw, 'demo'):.1f}",
    "demo.total_min": lambda raw: f"{(_role(raw, 'setup') + _role(raw, 'demo')) / 60:.1f}",
}
TABLES = {"demo.table": table}


# docs/demo.md's stage tables and prose, per run of the raw file (in its order): the 120-step
# version, the loaded `make demo`, `make setup`, the idle `make demo` with loss_token_logits
RUNS = ("before", "loaded", "setup", "demo")


def _run(raw: Raw, name: str) -> dict:
    return raw.key(DEMO, "runs", RUNS.index(name))


def _part(name: str, part: str):
    return lambda raw: f"{_run(raw, name)['parts_s'][part]:.1f} s"


for _name in RUNS:
    INLINE[f"demo.{_name}.wall_s"] = lambda raw, n=_name: f"{_run(raw, n)['wall_s']:.1f} s"
    INLINE[f"demo.{_name}.wall_min"] = lambda raw, n=_name: f"{_run(raw, n)['wall_s'] / 60:.1f} min"
    for _part_name in PARTS:
        INLINE[f"demo.{_name}.{_part_name.replace('+', '_')}"] = _part(_name, _part_name)
INLINE["demo.setup.user_cpu_s"] = lambda raw: f"{_run(raw, 'setup')['user_cpu_s']:.0f} s"
