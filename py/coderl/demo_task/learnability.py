"""Learnability experiment: can a tiny random-init Qwen2 learn the toy task in a few hundred steps on CPU?

A plain PyTorch loop (no verl) over the same chat-formatted samples the demo trains on, with
greedy generation on held-out problems scored by exact match with the canonical answer (a proxy
for the sandbox verdict: the canonical answer passes its asserts). Run:

    .venv/bin/python -m coderl.demo_task.learnability --steps 300 --eval-every 50
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time

from .problems import ToyTaskSpec, make_toy_problems, reference_answer

log = logging.getLogger(__name__)

# the demo profile's prompts (configs/demo/prompts.yaml); --system/--template try others
SYSTEM = "Write Python."
TEMPLATE = "{prompt}"


def _messages(problem, with_answer: bool, system: str = SYSTEM, template: str = TEMPLATE) -> list[dict]:
    m = [{"role": "system", "content": system}, {"role": "user", "content": template.replace("{prompt}", problem.prompt)}]
    if with_answer:
        meta = problem.meta
        m.append({"role": "assistant", "content": reference_answer(meta["name"], meta["op"], meta["constant"])})
    return m


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..models.tiny import TinyQwen2Spec, build_tiny_qwen2

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--n-eval", type=int, default=40)
    ap.add_argument("--max-constant", type=int, default=ToyTaskSpec.max_constant)
    ap.add_argument("--system", default=SYSTEM)
    ap.add_argument("--template", default=TEMPLATE)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    mdir = build_tiny_qwen2(tempfile.mkdtemp(prefix="toy-learn-"), TinyQwen2Spec(
        hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
        num_key_value_heads=1, intermediate_size=2 * args.hidden))
    tok = AutoTokenizer.from_pretrained(str(mdir))
    model = AutoModelForCausalLM.from_pretrained(str(mdir), attn_implementation="sdpa")
    train, held = make_toy_problems(ToyTaskSpec(n_heldout=args.n_eval, max_constant=args.max_constant))

    def encode(p):
        prompt_ids = tok.apply_chat_template(_messages(p, False, args.system, args.template), add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
        full_ids = tok.apply_chat_template(_messages(p, True, args.system, args.template), tokenize=True, return_dict=True)["input_ids"]
        labels = [-100] * len(prompt_ids) + full_ids[len(prompt_ids):]
        return full_ids, labels

    data = [encode(p) for p in train]
    log.info("samples %d, mean tokens %.1f", len(data), sum(len(d[0]) for d in data) / len(data))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)

    def evaluate(step):
        model.eval()
        t0 = time.time()
        ok = 0
        n_tok = 0
        for p in held:
            ids = tok.apply_chat_template(_messages(p, False, args.system, args.template), add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
            with torch.no_grad():
                out = model.generate(**ids, max_new_tokens=40, do_sample=False)
            gen = out[0, ids["input_ids"].shape[1]:]
            n_tok += len(gen)
            text = tok.decode(gen, skip_special_tokens=True)
            ok += text.strip() == reference_answer(p.meta["name"], p.meta["op"], p.meta["constant"])
        model.train()
        log.info("step %d heldout exact %d/%d (gen %.1fs, %d tokens)", step, ok, len(held), time.time() - t0, n_tok)
        if step and ok == 0:
            log.info("sample: %r", text)
        return ok

    results = {0: evaluate(0)}
    rng = torch.Generator().manual_seed(0)
    t0 = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(data), (args.batch,), generator=rng).tolist()
        L = max(len(data[i][0]) for i in idx)
        ids = torch.full((args.batch, L), tok.pad_token_id or 151643)
        lab = torch.full((args.batch, L), -100)
        att = torch.zeros((args.batch, L), dtype=torch.long)
        for r, i in enumerate(idx):
            x, y = data[i]
            ids[r, :len(x)] = torch.tensor(x); lab[r, :len(y)] = torch.tensor(y); att[r, :len(x)] = 1
        loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad()
        if step % 10 == 0:
            log.info("step %d loss %.4f (%.2fs/step)", step, loss.item(), (time.time() - t0) / step)
        if step % args.eval_every == 0:
            results[step] = evaluate(step)
    print(json.dumps({"args": vars(args), "heldout_exact": results, "n": len(held), "s_per_step": (time.time() - t0) / args.steps}))


if __name__ == "__main__":
    main()
