"""The named training figures of docs/performance.md and docs/throughput.md (make bench-train)."""

from __future__ import annotations

from . import fmt
from .raw import Raw
from .train import ACCEPT, D, Row, accept_steps, accept_timing, cite, loss_columns, losses, max_rel_diff, render

R2 = "2026-11-27_7.6b_2xH200_runbook_vs_default.json"  # the issue's measurement
B2 = "2026-11-27_7.6b_2xH200_balanced_vs_unbalanced.json"
S05 = "2026-11-27_0.5b_1xH200_runbook_vs_default.json"
B4 = "2026-11-27_7.6b_4xH200_balanced_vs_unbalanced.json"
P4 = "2026-11-27_7.6b_4xH200_balanced_prefetch_nockpt.json"
N4 = "2026-11-27_7.6b_4xH200_default_vs_nockpt.json"
RB4 = "2026-11-27_7.6b_4xH200_runbook_20steps.json"  # the runbook beside `make train GPUS=4`
H100 = "2026-11-27_0.5b_1xH100.json"
OLD4 = "2026-11-27_7.6b_4xH200.json"  # before fast_logprobs, with --ckpt-test
NCCL = "2026-11-27_7.6b_4xH200_default_nccl_default.json"
SIMPLE = "2026-11-27_7.6b_4xH200_default_nccl_proto_simple.json"

FULL = ["date", "machine", "shape", "recipe", "s", "tok", "mfu", "peak", "speedup"]


def current(raw: Raw) -> str:
    return render(
        raw,
        FULL,
        [
            Row(R2, "runbook", "runbook (20 steps, same call as the next row)", ref=True),
            Row(R2, "default", "default", vs=(R2, "runbook"), bold=True),
            Row(B2, "default_unbalanced", "default without token balancing (other call, 12 steps)"),
            Row(B2, "default", "default (same call as the row above)"),
            Row(S05, "runbook", "runbook (12 steps)", ref=True),
            Row(S05, "default", "default (same call)", vs=(S05, "runbook"), digits=1),
            Row(B4, "default_unbalanced", "default without token balancing (14 steps)"),
            Row(B4, "default", "default (same call)"),
            Row(P4, "default_nockpt", "default without gradient checkpointing (next call)"),
        ],
    )


def before_balancing(raw: Raw) -> str:
    """The 4-GPU rows of 19:10-19:25: `make train` has its own record (two attempts), not a bench summary."""
    rb, acc = raw.result(D + RB4, "runbook"), accept_timing(raw)
    peak = max(p for a in ("attempt1", "attempt2") for p in raw.key(ACCEPT, a, "peak_mem_gib_per_gpu"))
    verl = [raw.key(ACCEPT, a, "timing", "verl_mfu") for a in ("attempt1", "attempt2")]
    ours = [raw.key(ACCEPT, a, "timing", "mfu") for a in ("attempt1", "attempt2")]
    s_make = acc["mean_tokens_per_step"] / acc["s_per_step"] / raw.key(ACCEPT, "gpus")
    top = fmt.table(
        ["date", "machine", "shape", "recipe", "s/step", "tokens/s/GPU", "MFU ours / verl", "peak GiB/GPU", "speed-up"],
        [
            [
                rb_date(raw),
                "4x H200",
                "7.6B",
                "runbook, `bench-train` (20 steps, steps 3-20 timed)",
                fmt.fixed(rb["s_per_step"]),
                fmt.thousands(rb["tokens_per_s_per_gpu"]),
                f"{fmt.pct(rb['mfu'])} / {fmt.pct(rb['verl_mfu'])}",
                fmt.fixed(max(rb["peak_mem_gib_per_gpu"]), 1),
                "1.00x",
            ],
            [
                rb_date(raw),
                "4x H200",
                "7.6B",
                "default via `make train GPUS=4` (same data; steps 4-10, 14-20 timed)",
                fmt.fixed(acc["s_per_step"]),
                fmt.thousands(s_make),
                f"{fmt.pct(min(ours))}-{fmt.pct(max(ours))} / {fmt.pct(min(verl))}-{fmt.pct(max(verl))}",
                fmt.fixed(peak, 1),
                fmt.bold(fmt.times(rb["s_per_step"] / acc["s_per_step"])),
            ],
        ],
    )
    rest = render(
        raw,
        FULL,
        [
            Row(N4, "default", "default, `bench-train` (other call)"),
            Row(N4, "default_nockpt", "default without gradient checkpointing (same call)"),
        ],
        cited=False,
    )
    return top + "\n" + "\n".join(rest.splitlines()[2:]) + cite([D + RB4, ACCEPT, D + N4])


def rb_date(raw: Raw) -> str:
    return raw.key(D + RB4, "date")[:10]


def earlier(raw: Raw) -> str:
    cols = ["date", "machine", "shape", "recipe", "attention", "s", "tok", "mfu", "peak", "speedup"]
    return render(
        raw,
        cols,
        [
            Row(H100, "runbook", "runbook", ref=True, cells={"attention": "sdpa"}),
            Row(H100, "rmpad_sdpa", "rmpad + dynamic batch", vs=(H100, "runbook"), cells={"attention": "sdpa"}),
            Row(
                H100,
                "default",
                "default (without fast_logprobs)",
                vs=(H100, "runbook"),
                cells={"attention": "varlen flash"},
            ),
            Row(OLD4, "runbook", "runbook", ref=True, cells={"attention": "sdpa"}),
            Row(
                OLD4,
                "default",
                "default (without fast_logprobs)",
                vs=(OLD4, "runbook"),
                cells={"attention": "varlen flash"},
            ),
        ],
    )


def step1(raw: Raw) -> str:
    cols = ["recipe", "prediction", "s", "tok", "mfu", "peak", "loss8"]
    return render(
        raw,
        cols,
        [
            Row(
                H100,
                "runbook",
                "runbook (micro batch 2, padded per micro batch, sdpa + padding mask)",
                cells={"prediction": "—"},
            ),
            Row(
                H100,
                "rmpad_sdpa",
                "rmpad_sdpa (remove padding + dynamic batch 16k tokens, sdpa over packed rows)",
                cells={"prediction": "4.4 measured before this work"},
            ),
            Row(
                H100,
                "default",
                "default (rmpad + dynamic batch + varlen flash attention + pre-tokenized + liger)",
                cells={"prediction": "attention was the suspect: -> ~1 s"},
            ),
            Row(H100, "default_noliger", "default without liger", cells={"prediction": "±0"}),
            Row(
                H100,
                "default_nockpt",
                "default without gradient checkpointing",
                cells={"prediction": "-25% (no recompute)"},
            ),
        ],
        headers={"peak": "peak GiB"},
    )


def step2(raw: Raw) -> str:
    return render(
        raw,
        ["recipe", "s", "tok", "mfu", "peak"],
        [Row(OLD4, "runbook", "runbook"), Row(OLD4, "default", "default")],
        headers={"peak": "peak GiB (nvidia-smi)"},
    )


def step3(raw: Raw) -> str:
    """fast_logprobs on 4x H200: bench-train rows and the `make train` acceptance run."""
    cols = ["run", "s", "tok", "mfu", "peak"]
    rb = render(
        raw,
        cols,
        [Row(RB4, "runbook", "runbook recipe (stock verl), `bench-train`, steps 3-20")],
        headers={"peak": "peak GiB (nvidia-smi)"},
        cited=False,
    )
    acc = accept_timing(raw)
    verl = [raw.key(ACCEPT, a, "timing", "verl_mfu") for a in ("attempt1", "attempt2")]
    ours = [raw.key(ACCEPT, a, "timing", "mfu") for a in ("attempt1", "attempt2")]
    peak = max(p for a in ("attempt1", "attempt2") for p in raw.key(ACCEPT, a, "peak_mem_gib_per_gpu"))
    make = (
        f"| default recipe via `make train GPUS=4`, steps 4-10 and 14-20 (interrupted and resumed at 10) | "
        f"{fmt.fixed(acc['s_per_step'])} | {fmt.thousands(acc['tokens_per_s_per_gpu'])} (exactly those steps) | "
        f"{fmt.pct(min(ours))}-{fmt.pct(max(ours))} / {fmt.pct(min(verl))}-{fmt.pct(max(verl))} | {fmt.fixed(peak, 1)} |"
    )
    rest = render(
        raw,
        cols,
        [
            Row(N4, "default", "default recipe, `bench-train` (12 steps, 10-11 profiled and untimed)"),
            Row(N4, "default_nockpt", "default without gradient checkpointing (same call)", bold=True),
            Row(NCCL, "default", "default, fresh machine (10 steps)"),
            Row(SIMPLE, "default", "default with `NCCL_PROTO=Simple` (next call)"),
        ],
        cited=False,
    )
    return "\n".join([rb, make, *rest.splitlines()[2:]]) + cite([D + RB4, ACCEPT, D + N4, D + NCCL, D + SIMPLE])


def step4(raw: Raw) -> str:
    cols = ["machine", "recipe", "s3", "tok", "mfu", "peak"]
    rows = render(
        raw,
        cols,
        [
            Row(
                B4,
                "default_unbalanced",
                "default, verl's order",
                cells={"machine": "4x H200 (one call, 14 steps each)"},
            ),
            Row(B4, "default", "default, token-balanced", bold=True, cells={"machine": ""}),
            Row(
                P4,
                "default_prefetch",
                "token-balanced + `engine.forward_prefetch=True`",
                cells={"machine": "4x H200 (next call, same machine)"},
            ),
            Row(P4, "default_nockpt", "token-balanced, no gradient checkpointing", bold=True, cells={"machine": ""}),
            Row(
                B2,
                "default_unbalanced",
                "default, verl's order",
                cells={"machine": "2x H200 (one call, 12 steps each, steps 10-11 profiled and untimed)"},
            ),
            Row(B2, "default", "default, token-balanced", bold=True, cells={"machine": ""}),
            Row(B2, "default_prefetch", "token-balanced + `engine.forward_prefetch=True`", cells={"machine": ""}),
        ],
        headers={"s3": "s/step (median)"},
    )
    return rows


def issue_table(raw: Raw) -> str:
    return render(
        raw,
        ["recipe", "s", "tok", "mfu", "peak"],
        [
            Row(R2, "runbook", "runbook (stock verl 0.9.1: micro batch 2 padded, sdpa)"),
            Row(R2, "default", "default (configs/sft.yaml)", bold=True),
        ],
        headers={"peak": "peak GiB/GPU (nvidia-smi)"},
    )


def issue_losses(raw: Raw) -> str:
    return loss_columns(losses(raw, R2, "runbook"), losses(raw, R2, "default"))


def make_train_losses(raw: Raw) -> str:
    """`make train GPUS=4` (default recipe, resumed at step 11) beside the runbook recipe's bench run."""
    steps = accept_steps(raw)
    return loss_columns(losses(raw, RB4, "runbook"), {str(n): s["train/loss"] for n, s in steps.items()})


# inline figures: one number in a sentence, computed where the table's numbers come from
def _speedup(raw: Raw, f: str, a: str = "runbook", b: str = "default", digits: int = 2) -> str:
    return fmt.times(
        raw.result(D + f, b)["tokens_per_s_per_gpu"] / raw.result(D + f, a)["tokens_per_s_per_gpu"], digits
    )


def _rel(raw: Raw, f: str, a: str, b: str) -> tuple[float, str]:
    return max_rel_diff(losses(raw, f, b), losses(raw, f, a))


def make_train_vs_runbook(raw: Raw, first: int, last: int) -> tuple[float, str]:
    steps = accept_steps(raw)
    mine = {str(n): s["train/loss"] for n, s in steps.items()}
    return max_rel_diff(mine, losses(raw, RB4, "runbook"), [str(n) for n in range(first, last + 1)])


def resume_vs_uninterrupted(raw: Raw) -> tuple[float, list[str]]:
    """bench-train --ckpt-test: the resumed default run against the uninterrupted default run of the same call."""
    c = raw.key(D + OLD4, "ckpt")
    return max_rel_diff(c["resumed_steps"], c["uninterrupted"])[0], sorted(c["resumed_steps"], key=int)


INLINE = {
    "train.issue.speedup": lambda raw: _speedup(raw, R2),
    "train.issue.mfu": lambda raw: fmt.pct(raw.result(D + R2, "default")["mfu"]),
    "train.issue.verl_mfu": lambda raw: fmt.pct(raw.result(D + R2, "default")["verl_mfu"]),
    "train.issue.loss_rel": lambda raw: fmt.sci(_rel(raw, R2, "runbook", "default")[0]),
    "train.issue.loss_rel_step": lambda raw: _rel(raw, R2, "runbook", "default")[1],
    "train.0.5b.speedup": lambda raw: _speedup(raw, S05, digits=1),
    "train.0.5b.loss_rel": lambda raw: fmt.sci(_rel(raw, S05, "runbook", "default")[0]),
    "train.4gpu.mfu": lambda raw: fmt.pct(raw.result(D + B4, "default")["mfu"]),
    "train.4gpu.nockpt_mfu": lambda raw: fmt.pct(raw.result(D + P4, "default_nockpt")["mfu"]),
    "train.balance.loss_rel_4gpu": lambda raw: fmt.sci(_rel(raw, B4, "default_unbalanced", "default")[0]),
    "train.balance.loss_rel_2gpu": lambda raw: fmt.sci(_rel(raw, B2, "default_unbalanced", "default")[0]),
    "train.make.speedup": lambda raw: fmt.times(
        raw.result(D + RB4, "runbook")["s_per_step"] / accept_timing(raw)["s_per_step"]
    ),
    "train.make.tokens": lambda raw: fmt.thousands(accept_timing(raw)["tokens"]),
    "train.make.loss_rel_all": lambda raw: fmt.sci(make_train_vs_runbook(raw, 1, 20)[0]),
    "train.make.loss_rel_all_step": lambda raw: make_train_vs_runbook(raw, 1, 20)[1],
    "train.make.loss_rel_resumed": lambda raw: fmt.sci(make_train_vs_runbook(raw, 11, 20)[0]),
    "train.resume.loss_rel": lambda raw: fmt.sci(resume_vs_uninterrupted(raw)[0]),
    "train.resume.steps": lambda raw: "{}-{}".format(*(lambda s: (s[0], s[-1]))(resume_vs_uninterrupted(raw)[1])),
    "train.resume.save_at": lambda raw: str(raw.key(D + OLD4, "ckpt", "save_at_step")),
    "train.ckpt.gb": lambda raw: fmt.fixed(raw.key(ACCEPT, "checkpoint", "bytes") / 1e9),
    "train.ckpt.hf_gb": lambda raw: fmt.fixed(raw.key(ACCEPT, "checkpoint", "hf_bytes") / 1e9),
    "train.ckpt.save_s": lambda raw: fmt.fixed(raw.key(ACCEPT, "checkpoint", "save_s"), 1),
    "train.verl.allocated": lambda raw: fmt.fixed(accept_timing(raw)["verl_max_allocated_gb"], 1),
    "train.verl.reserved": lambda raw: fmt.fixed(accept_timing(raw)["verl_max_reserved_gb"], 1),
}

TABLES = {
    "train.current": current,
    "train.before_balancing": before_balancing,
    "train.earlier": earlier,
    "train.step1": step1,
    "train.step2": step2,
    "train.step3": step3,
    "train.step4": step4,
    "train.issue": issue_table,
    "train.issue.losses": issue_losses,
    "train.make.losses": make_train_losses,
}


def acceptance(raw: Raw) -> str:
    """`make train GPUS=4` (two attempts, resumed at 11) beside the runbook recipe's `bench-train` run."""
    rb, acc, gpus = raw.result(D + RB4, "runbook"), accept_timing(raw), raw.key(ACCEPT, "gpus")
    att = {a: raw.key(ACCEPT, a) for a in ("attempt1", "attempt2")}

    def per_attempt(f) -> str:
        return ", ".join(f"{f(att[a])} (attempt {a[-1]})" for a in att)

    def peaks(xs: list[float]) -> str:
        return " / ".join(fmt.fixed(x, 1) for x in xs)

    reserved = sorted(a["timing"]["verl_max_reserved_gb"] for a in att.values())
    rows = [
        [
            "s/step (median)",
            f"{fmt.fixed(rb['s_per_step'])} (steps 3-20)",
            f"{fmt.fixed(acc['s_per_step'])} (steps 4-10 and 14-20; "
            + per_attempt(lambda a: fmt.fixed(a["timing"]["s_per_step"], 3))
            + ")",
        ],
        [
            "tokens/s per GPU",
            f"{fmt.thousands(rb['tokens_per_s_per_gpu'])} (mean tokens per step / median s/step)",
            f"{fmt.thousands(acc['mean_tokens_per_step'] / acc['s_per_step'] / gpus)} (same count); over exactly steps 4-10 and "
            f"14-20: {fmt.thousands(acc['tokens_per_s_per_gpu'])} ({fmt.thousands(acc['tokens'])} tokens)",
        ],
        [
            "speed-up (median s/step; the same 20 steps of data, so the same tokens per step)",
            "1.00x",
            fmt.bold(fmt.times(rb["s_per_step"] / acc["s_per_step"])),
        ],
        [
            "MFU ours / verl",
            f"{fmt.pct(rb['mfu'])} / {fmt.pct(rb['verl_mfu'])}",
            per_attempt(lambda a: f"{fmt.pct(a['timing']['mfu'])} / {fmt.pct(a['timing']['verl_mfu'])}"),
        ],
        [
            "peak memory per GPU (nvidia-smi, GiB)",
            peaks(rb["peak_mem_gib_per_gpu"]),
            per_attempt(lambda a: peaks(a["peak_mem_gib_per_gpu"])),
        ],
        [
            "verl max allocated / reserved per GPU (GB)",
            "not in the raw result",
            f"{fmt.fixed(acc['verl_max_allocated_gb'], 1)} / {fmt.fixed(reserved[0], 1)}-{fmt.fixed(reserved[-1], 1)}",
        ],
        [
            "launch to first save / first resumed step",
            "—",
            f"{fmt.fixed(att['attempt1']['events']['save_start'], 0)} s to the save at step 10 (10 steps included); resumed: "
            f"{fmt.fixed(raw.key(ACCEPT, 'resume', 'first_step_s_after_launch'), 1)} s to step "
            f"{raw.key(ACCEPT, 'resume', 'first_step')}",
        ],
    ]
    return fmt.table(
        [
            "what",
            "runbook recipe (`bench-train`, 20 steps)",
            "default recipe (`make train GPUS=4`, 20 steps in 2 attempts)",
        ],
        rows,
    ) + cite([D + RB4, ACCEPT])


TABLES["train.acceptance"] = acceptance
INLINE["train.ckpt.final_save_s"] = lambda raw: fmt.fixed(
    raw.key(ACCEPT, "attempt2", "events", "save_end") - raw.key(ACCEPT, "attempt2", "events", "save_start"), 1
)


def _change(raw: Raw, f: str, a: str, b: str, key: str = "s_per_step") -> str:
    """Relative change of `key` from recipe a to recipe b of one file, as -17.3%."""
    x, y = raw.result(D + f, a)[key], raw.result(D + f, b)[key]
    return f"{100 * (y / x - 1):+.1f}%"


def _all_vs_runbook(raw: Raw, f: str) -> float:
    rb = losses(raw, f, "runbook")
    return max(max_rel_diff(r["loss"], rb)[0] for r in raw.key(D + f, "results") if r["recipe"] != "runbook")


INLINE.update(
    {
        "train.old4.loss_rel": lambda raw: fmt.sci(_rel(raw, OLD4, "runbook", "default")[0]),
        "train.old4.loss_rel_step": lambda raw: _rel(raw, OLD4, "runbook", "default")[1],
        "train.h100.loss_rel": lambda raw: fmt.sci(_all_vs_runbook(raw, H100)),
        "train.balance.step_4gpu": lambda raw: _change(raw, B4, "default_unbalanced", "default"),
        "train.balance.step_2gpu": lambda raw: _change(raw, B2, "default_unbalanced", "default"),
        "train.balance.step_2gpu_mean": lambda raw: _change(
            raw, B2, "default_unbalanced", "default", "s_per_step_mean"
        ),
        "train.4gpu.s": lambda raw: fmt.fixed(raw.result(D + B4, "default")["s_per_step"]),
        "train.4gpu.nockpt_s": lambda raw: fmt.fixed(raw.result(D + P4, "default_nockpt")["s_per_step"]),
        "train.4gpu.nockpt_gib": lambda raw: fmt.fixed(
            max(raw.result(D + P4, "default_nockpt")["peak_mem_gib_per_gpu"]), 0
        ),
        "train.issue.runbook_s": lambda raw: fmt.fixed(raw.result(D + R2, "runbook")["s_per_step"]),
        "train.issue.runbook_mfu": lambda raw: fmt.pct(raw.result(D + R2, "runbook")["mfu"]),
    }
)
INLINE.update(
    {
        "train.4gpu.unbalanced_s": lambda raw: fmt.fixed(raw.result(D + B4, "default_unbalanced")["s_per_step"]),
        "train.2gpu.unbalanced_s": lambda raw: fmt.fixed(raw.result(D + B2, "default_unbalanced")["s_per_step"]),
        "train.2gpu.s": lambda raw: fmt.fixed(raw.result(D + B2, "default")["s_per_step"]),
    }
)


def _accept_smi_range(raw: Raw) -> str:
    """nvidia-smi's per-GPU peaks over both attempts of `make train GPUS=4`: lowest-highest GiB."""
    v = [p for a in ("attempt1", "attempt2") for p in raw.key(ACCEPT, a, "peak_mem_gib_per_gpu")]
    return f"{min(v):.0f}-{max(v):.0f} GiB"


# figures quoted in the prose around the tables (issue 22's sweep)
INLINE.update(
    {
        "train.0.5b.runbook_s": lambda raw: fmt.fixed(raw.result(D + S05, "runbook")["s_per_step"]),
        "train.0.5b.default_s": lambda raw: fmt.fixed(raw.result(D + S05, "default")["s_per_step"]),
        "train.h100.runbook_s": lambda raw: fmt.fixed(raw.result(D + H100, "runbook")["s_per_step"]),
        "train.ckpt.two_full_gb": lambda raw: f"{2 * raw.key(ACCEPT, 'checkpoint', 'bytes') / 1e9:.0f} GB",
        "train.accept.smi_range": _accept_smi_range,
    }
)


def _h100_varlen_range(raw: Raw) -> str:
    """The 0.5B H100 step with varlen flash attention, with and without liger / checkpointing."""
    v = [raw.result(D + H100, r)["s_per_step"] for r in ("default", "default_noliger", "default_nockpt")]
    return f"{min(v):.1f}-{max(v):.1f}"


def _accept_mfu_range(raw: Raw) -> str:
    v = [raw.key(ACCEPT, a, "timing", "mfu") for a in ("attempt1", "attempt2")]
    return f"{100 * min(v):.0f}-{100 * max(v):.0f}%"


def _data(key: str):
    return lambda raw: fmt.thousands(raw.key(D + R2, "data", key))


# Step 1-3 prose of docs/throughput.md and the synthetic data of bench-train (issue 22's sweep)
INLINE.update(
    {
        "train.h100.runbook_s1": lambda raw: fmt.fixed(raw.result(D + H100, "runbook")["s_per_step"], 1),
        "train.h100.rmpad_s1": lambda raw: fmt.fixed(raw.result(D + H100, "rmpad_sdpa")["s_per_step"], 1),
        "train.h100.varlen_range": _h100_varlen_range,
        "train.old4.default_s": lambda raw: fmt.fixed(raw.result(D + OLD4, "default")["s_per_step"]),
        "train.old4.speedup": lambda raw: fmt.times(
            raw.result(D + OLD4, "default")["tokens_per_s_per_gpu"]
            / raw.result(D + OLD4, "runbook")["tokens_per_s_per_gpu"]
        ),
        # what fast_logprobs took off the default step: before it (OLD4) minus `make train` after it
        "train.logprob_loop_s": lambda raw: fmt.fixed(
            raw.result(D + OLD4, "default")["s_per_step"] - accept_timing(raw)["s_per_step"], 1
        ),
        "train.make.mfu_range": _accept_mfu_range,
        "train.n4.nockpt_mfu": lambda raw: fmt.pct(raw.result(D + N4, "default_nockpt")["mfu"]),
        "train.n4.nockpt_verl_mfu": lambda raw: fmt.pct(raw.result(D + N4, "default_nockpt")["verl_mfu"]),
        "train.n4.nockpt_gib": lambda raw: fmt.fixed(
            max(raw.result(D + N4, "default_nockpt")["peak_mem_gib_per_gpu"]), 0
        ),
        "train.data.n": _data("n"),
        "train.data.mean": _data("mean"),
        "train.data.max": _data("max"),
    }
)
