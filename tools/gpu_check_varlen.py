"""GPU check of packed attention (issue 16): consecutive micro batches never use each other's boundaries.

Runs on a CUDA box (the varlen kernel has no CPU implementation):

    PYTHONPATH=py python3 tools/gpu_check_varlen.py [--out DIR]

(`--device cpu` runs the same plumbing on CPU with per-sample sdpa standing in for the GPU-only
kernel: it tests this script, not the kernel.)

A small random-init Qwen2 (Qwen2.5's head layout: 14 query / 2 key-value heads, head_dim 64,
bf16) runs micro batches that all have the same total length but different sample boundaries,
one after the other, through transformers with attn_implementation=coderl_varlen, exactly as
verl's remove-padding path feeds it (one packed row, position_ids restarting at 0 per sample,
a fresh position_ids tensor per micro batch, so the CUDA caching allocator reuses its block).
Each sample's logits are compared with the same sample run alone through stock sdpa.
A control replays each micro batch with the previous one's boundaries (what the old cache could
return): its error must be twice the tolerance, or the check could not see the bug.
Also runs the kernel-level check (outputs and gradients vs fp64 sdpa, Qwen2.5-7B heads).
Prints one JSON object; exit 0 only if every micro batch matches and the control is caught.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

TOTAL = 4096
# equal total length, different boundaries (the case the address-keyed cache got wrong)
SPLITS = [
    [1000, 3096],
    [2048, 2048],
    [17, 4079],
    [4096],
    [1, 1, 4094],
    [3000, 1000, 96],
    [512] * 8,
    [2047, 2049],
    [4000, 96],
    [100, 200, 300, 3496],
]
TOL = 3e-2  # relative error of bf16 logits after 4 layers, varlen vs per-sample sdpa (summation order differs)


def _rel(a, b) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def _cpu_stand_in():
    """(varlen_attn, its parameters) for --device cpu: causal sdpa per segment, same signature."""
    import inspect

    import torch
    import torch.nn.functional as F

    def varlen_attn(q, k, v, cu_q, cu_k, max_q, max_k, *, is_causal=True, scale=None, enable_gqa=False):
        out = []
        for a, b in zip(cu_q[:-1].tolist(), cu_q[1:].tolist()):
            qs, ks, vs = (t[a:b].transpose(0, 1) for t in (q, k, v))
            out.append(
                F.scaled_dot_product_attention(
                    qs, ks, vs, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa
                ).transpose(0, 1)
            )
        return torch.cat(out)

    return varlen_attn, inspect.signature(varlen_attn).parameters


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--device",
        default="cuda",
        choices=["cuda", "cpu"],
        help="cpu: sdpa per sample stands in for the varlen kernel (tests this script only)",
    )
    ap.add_argument("--out", default=os.environ.get("OUT"), help="folder for gpu_check_varlen.json (default $OUT)")
    args = ap.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_check_varlen: no CUDA device; this check runs on a GPU box (--device cpu tests the script)",
            file=sys.stderr,
        )
        return 2
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from coderl.training.in_verl import varlen_attn

    t0 = time.monotonic()
    dev = args.device
    dtype = torch.bfloat16 if dev == "cuda" else torch.float32
    if dev == "cpu":
        varlen_attn._kernel = _cpu_stand_in
    # CPU: one narrower layer (same 7:1 query/key-value head ratio), so the script check takes seconds
    shape = (
        dict(hidden_size=896, intermediate_size=2432, num_hidden_layers=4, num_attention_heads=14)
        if dev == "cuda"
        else dict(hidden_size=448, intermediate_size=512, num_hidden_layers=1, num_attention_heads=7)
    )
    cfg = Qwen2Config(
        vocab_size=4096,
        num_key_value_heads=shape["num_attention_heads"] // 7,
        max_position_embeddings=TOTAL,
        rope_theta=1000000.0,
        attn_implementation="sdpa",
        **shape,
    )
    torch.manual_seed(0)
    ref_model = Qwen2ForCausalLM(cfg).to(dev, dtype).eval()
    cfg_v = Qwen2Config(**{**cfg.to_dict(), "attn_implementation": varlen_attn.NAME})
    packed_model = Qwen2ForCausalLM(cfg_v).to(dev, dtype).eval()
    packed_model.load_state_dict(ref_model.state_dict())
    assert packed_model.config._attn_implementation == varlen_attn.NAME

    calls, real_cu = [], varlen_attn._cu_seqlens

    def counting(position_ids):
        cu, m = real_cu(position_ids)
        calls.append((position_ids.data_ptr(), id(cu)))
        return cu, m

    varlen_attn._cu_seqlens = counting
    g = torch.Generator(device="cpu").manual_seed(1)
    rows, prev_ptr, same_address, prev_cu = [], None, 0, None
    with torch.no_grad():
        for i, lens in enumerate(SPLITS):
            assert sum(lens) == TOTAL
            ids = torch.randint(0, cfg.vocab_size, (1, TOTAL), generator=g).to(dev)
            pos = torch.cat([torch.arange(n) for n in lens]).unsqueeze(0).to(dev)  # fresh tensor each time
            same_address += int(pos.data_ptr() == prev_ptr)
            prev_ptr = pos.data_ptr()
            n_calls = len(calls)
            packed = packed_model(input_ids=ids, position_ids=pos).logits[0]
            computed = len({c for _, c in calls[n_calls:]})
            errs, start = [], 0
            for n in lens:
                alone = ref_model(input_ids=ids[:, start : start + n]).logits[0]
                errs.append(_rel(packed[start : start + n], alone))
                start += n
            control = None
            if prev_cu is not None:  # the old bug: this batch attended with the previous batch's boundaries
                stale = prev_cu
                varlen_attn._cu_seqlens = lambda _p, stale=stale: stale
                wrong = packed_model(input_ids=ids, position_ids=pos).logits[0]
                varlen_attn._cu_seqlens = counting
                start, cerr = 0, []
                for n in lens:
                    cerr.append(
                        _rel(wrong[start : start + n], ref_model(input_ids=ids[:, start : start + n]).logits[0])
                    )
                    start += n
                control = max(cerr)
            prev_cu = real_cu(pos)
            rows.append(
                {
                    "batch": i,
                    "lens": lens,
                    "max_rel_err": max(errs),
                    "boundary_computations": computed,
                    "attention_calls": len(calls) - n_calls,
                    "control_stale_boundaries_rel_err": control,
                }
            )
            del pos, packed
    varlen_attn._cu_seqlens = real_cu
    kernel = varlen_attn.check_against_sdpa() if dev == "cuda" else {}
    worst = max(r["max_rel_err"] for r in rows)
    weakest_control = min(r["control_stale_boundaries_rel_err"] for r in rows[1:])
    # the control must fail the same tolerance, else this check could not see the bug; one boundary
    # computation per forward shows every layer reused the cache (the same tensor object)
    ok = (
        worst < TOL
        and weakest_control > 2 * TOL
        and all(r["boundary_computations"] == 1 for r in rows)
        and max(kernel.values(), default=0.0) < 2e-2
    )
    result = {
        "ok": ok,
        "device": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu (stand-in kernel)",
        "torch": torch.__version__,
        "micro_batches": len(rows),
        "tokens_each": TOTAL,
        "same_address_as_previous": same_address,
        "worst_rel_err": worst,
        "tolerance": TOL,
        "weakest_control_rel_err": weakest_control,
        "kernel_vs_fp64_sdpa": kernel,
        "seconds": round(time.monotonic() - t0, 1),
        "batches": rows,
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check_varlen.json").write_text(text + "\n")
    print(
        f"gpu_check_varlen: {'PASS' if ok else 'FAIL'}: {len(rows)} packed micro batches of {TOTAL} tokens, "
        f"worst rel err {worst:.2e} (tol {TOL}), stale-boundary control {weakest_control:.2e}, "
        f"{same_address} reused the previous address",
        file=sys.stderr,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
