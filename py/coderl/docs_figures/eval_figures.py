"""Figures of `make bench-eval` (coderl.evaluation.bench_eval): eval-all one at a time vs `--gpus N`.

A raw file holds `runs` (backend, mode `sequential` or `gpusN`, wall_s, load_average_after) and the
load average at start and end. Provenance is top-level in the file written before bench_record
(docs/results/bench_eval_2026-12-01.json: date, machine{host,cpu,cores}, versions) and in `record`
after it (date, machine{hostname,cpu_model,cpus}, versions): `provenance` reads either.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from . import fmt
from .raw import Raw

EVAL = "results/bench_eval_2026-12-01.json"
# what each backend measures (its set-up, not a figure)
BACKENDS = {"hf": "hf (tiny model in-process, CPU)", "oracle": "oracle (reference answers: judging only)"}


def provenance(raw: Raw, rel: str) -> dict[str, Any]:
    """date (YYYY-MM-DD HH:MM), host, cpu, cores, versions: from `record` or the older top level."""
    d = raw.file(rel)
    if "record" in d:
        r = d["record"]
        m = r["machine"]
        return {"date": r["date"][:16], "host": m["hostname"], "cpu": m.get("cpu_model"), "cores": m["cpus"],
                "versions": r["versions"]}  # fmt: skip
    m = raw.key(rel, "machine")
    return {"date": raw.key(rel, "date")[:16].replace("T", " "), "host": m["host"], "cpu": m["cpu"],
            "cores": m["cores"], "versions": raw.key(rel, "versions")}  # fmt: skip


def _run(raw: Raw, rel: str, backend: str, parallel: bool) -> dict[str, Any]:
    for r in raw.key(rel, "runs"):
        if r["backend"] == backend and (r["mode"] != "sequential") == parallel:
            return r
    raise ConfigError(f"docs/{rel} has no {'parallel' if parallel else 'sequential'} run of backend {backend!r}")


def ratio(raw: Raw, rel: str, backend: str) -> str:
    seq, par = _run(raw, rel, backend, False)["wall_s"], _run(raw, rel, backend, True)["wall_s"]
    return f"{seq / par:.2f}x faster" if seq >= par else f"{par / seq:.1f}x slower"


def table(raw: Raw) -> str:
    gpus = _run(raw, EVAL, "hf", True)["mode"].removeprefix("gpus")
    rows = []
    for backend, label in BACKENDS.items():
        seq, par = _run(raw, EVAL, backend, False), _run(raw, EVAL, backend, True)
        same = par.get("same_history_rows_as_sequential")
        rows.append(
            [label, f"{seq['wall_s']:.1f} s", f"{par['wall_s']:.1f} s", ratio(raw, EVAL, backend),
             {True: "yes", False: "**no**"}.get(same, "not checked")]
        )  # fmt: skip
    header = ["backend", "one at a time", f"`--gpus {gpus}` (Ray, placeholder GPUs)", "ratio", "same history rows"]
    return fmt.table(header, rows) + f"\n\nRaw: docs/{EVAL}."


def _loads(raw: Raw) -> str:
    """Lowest-highest 1-minute load average seen at the start, after each run and at the end."""
    d = raw.file(EVAL)
    one = [d["load_average_start"][0], d["load_average_end"][0]] + [r["load_average_after"][0] for r in d["runs"]]
    return f"{min(one):.0f}-{max(one):.0f}"


def measured(raw: Raw) -> str:
    p = provenance(raw, EVAL)
    v = p["versions"]
    soft = ", ".join(f"{k} {v[k]}" for k in ("ray", "torch", "transformers") if v.get(k))
    cpu = f", {p['cpu']}" if p["cpu"] else ""
    return (
        f'{p["date"]} UTC (start) on the {p["cores"]}-core machine "{p["host"]}"{cpu}; Python {v["python"]}, '
        f"{soft}; `--limit {raw.key(EVAL, 'limit')} --max-new-tokens {raw.key(EVAL, 'max_new_tokens')}`, "
        f"{raw.key(EVAL, 'checkpoints')} checkpoints"
    )


INLINE = {
    "eval.measured": measured,
    "eval.load_range": _loads,
    "eval.hf_ratio": lambda raw: ratio(raw, EVAL, "hf").split()[0],
}
TABLES = {"eval.table": table}
