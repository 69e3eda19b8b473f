"""Learnability experiment: can a tiny random-init Qwen2 learn the toy task in a few hundred steps on CPU?

A plain PyTorch loop (no verl) over the same chat-formatted samples the demo trains on, with
greedy generation on held-out problems scored by exact match with the canonical answer (a proxy
for the sandbox verdict: the canonical answer passes its asserts). Run:

    .venv/bin/python tools/learnability.py --steps 80 --eval-every 10 --schedule cosine --warmup-ratio 0.1
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "py"))  # a tool outside the package: `python tools/X.py` finds coderl in py/

from coderl.demo_task.problems import PROMPT_FORMS, ToyTaskSpec, make_toy_problems, reference_answer  # noqa: E402

log = logging.getLogger(__name__)

# the demo profile's prompts (configs/demo/prompts.yaml); --system/--template try others
SYSTEM = "Write Python."
TEMPLATE = "{prompt}"


def _messages(problem, with_answer: bool, system: str = SYSTEM, template: str = TEMPLATE) -> list[dict]:
    m = [
        {"role": "system", "content": system},
        {"role": "user", "content": template.replace("{prompt}", problem.prompt)},
    ]
    if with_answer:
        meta = problem.meta
        m.append({"role": "assistant", "content": reference_answer(meta["name"], meta["op"], meta["constant"])})
    return m


def lr_at(step: int, total: int, peak: float, schedule: str, warmup_ratio: float, min_lr_ratio: float) -> float:
    """verl's schedule (linear warm-up, then constant or cosine down to min_lr_ratio * peak at `total`)."""
    import math

    warmup = int(warmup_ratio * total)
    if step < warmup:
        return peak * (step + 1) / warmup
    if schedule == "constant":
        return peak
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from coderl.models.tiny import TinyQwen2Spec, build_tiny_qwen2

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    ap.add_argument("--warmup-ratio", type=float, default=0.0)
    ap.add_argument("--min-lr-ratio", type=float, default=0.0)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--n-train", type=int, default=ToyTaskSpec.n_train)
    ap.add_argument("--n-eval", type=int, default=40)
    ap.add_argument("--max-constant", type=int, default=ToyTaskSpec.max_constant)
    ap.add_argument("--prompt-form", choices=PROMPT_FORMS, default=ToyTaskSpec.prompt_form)
    ap.add_argument("--system", default=SYSTEM)
    ap.add_argument("--template", default=TEMPLATE)
    ap.add_argument("--seed", type=int, default=0, help="model init and data order")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--out", default=None, help="append one JSON line per evaluation to this file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    mdir = build_tiny_qwen2(
        tempfile.mkdtemp(prefix="toy-learn-"),
        TinyQwen2Spec(
            hidden_size=args.hidden,
            num_hidden_layers=args.layers,
            num_attention_heads=args.heads,
            num_key_value_heads=1,
            intermediate_size=2 * args.hidden,
            seed=args.seed,
        ),
    )
    tok = AutoTokenizer.from_pretrained(str(mdir))
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(mdir), attn_implementation="sdpa")
    train, held = make_toy_problems(
        ToyTaskSpec(
            n_train=args.n_train, n_heldout=args.n_eval, max_constant=args.max_constant, prompt_form=args.prompt_form
        )
    )

    def encode(p):
        prompt_ids = tok.apply_chat_template(
            _messages(p, False, args.system, args.template), add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
        full_ids = tok.apply_chat_template(
            _messages(p, True, args.system, args.template), tokenize=True, return_dict=True
        )["input_ids"]
        labels = [-100] * len(prompt_ids) + full_ids[len(prompt_ids) :]
        return full_ids, labels

    data = [encode(p) for p in train]
    log.info("samples %d, mean tokens %.1f", len(data), sum(len(d[0]) for d in data) / len(data))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, args.beta2))
    prompts = [
        tok.apply_chat_template(
            _messages(p, False, args.system, args.template), add_generation_prompt=True, tokenize=False
        )
        for p in held
    ]
    answers = [reference_answer(p.meta["name"], p.meta["op"], p.meta["constant"]) for p in held]

    def evaluate(step):
        # batched greedy with left padding: a proxy score, fast enough to run every few steps
        model.eval()
        t0 = time.time()
        enc = tok(prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=24, do_sample=False, pad_token_id=tok.pad_token_id)
        texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        ok = sum(t.strip() == a for t, a in zip(texts, answers))
        # which part is wrong: the name, the operator or the constant (the last line of the answer)
        parts = {
            "name": sum(f"def {p.meta['name']}(x):" in t for p, t in zip(held, texts)),
            "body": sum(a.splitlines()[2] in t for a, t in zip(answers, texts)),
            "op": sum(f"x {a.splitlines()[2].split()[2]} " in t for a, t in zip(answers, texts)),
        }
        model.train()
        log.info("step %d: held-out exact %d/%d (%.1fs)", step, ok, len(held), time.time() - t0)
        if ok < len(held):
            log.info("sample: %r", next(t for t, a in zip(texts, answers) if t.strip() != a))
        if args.out:
            with open(args.out, "a") as f:
                f.write(
                    json.dumps(
                        {
                            "step": step,
                            "ok": ok,
                            "n": len(held),
                            "loss": last_loss,
                            **parts,
                            "s_per_step": (time.time() - t_start) / max(step, 1),
                        }
                    )
                    + "\n"
                )
        return ok

    last_loss, t_start = None, time.time()
    results = {0: evaluate(0)}
    gen = torch.Generator().manual_seed(args.seed)
    order: list[int] = []
    t_start = time.time()
    for step in range(1, args.steps + 1):
        if len(order) < args.batch:  # epochs of distinct rows, shuffled, as verl's sampler draws them
            order += torch.randperm(len(data), generator=gen).tolist()
        idx, order = order[: args.batch], order[args.batch :]
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1, args.steps, args.lr, args.schedule, args.warmup_ratio, args.min_lr_ratio)
        L = max(len(data[i][0]) for i in idx)
        ids = torch.full((args.batch, L), tok.pad_token_id or 151643)
        lab = torch.full((args.batch, L), -100)
        att = torch.zeros((args.batch, L), dtype=torch.long)
        for r, i in enumerate(idx):
            x, y = data[i]
            ids[r, : len(x)] = torch.tensor(x)
            lab[r, : len(y)] = torch.tensor(y)
            att[r, : len(x)] = 1
        loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        last_loss = round(loss.item(), 4)
        if step % 10 == 0:
            log.info("step %d loss %.4f (%.2fs/step)", step, last_loss, (time.time() - t_start) / step)
        if step % args.eval_every == 0:
            results[step] = evaluate(step)
    print(
        json.dumps(
            {
                "args": vars(args),
                "heldout_exact": results,
                "n": len(held),
                "s_per_step": (time.time() - t_start) / args.steps,
            }
        )
    )


if __name__ == "__main__":
    main()
