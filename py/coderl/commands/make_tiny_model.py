"""write a tiny random-init Qwen2 model with the real Qwen tokenizer.

coderl make-tiny-model --out DIR: a tiny random-init Qwen2 with the real tokenizer.
"""

from __future__ import annotations

import argparse

from ..models.tiny import TinyQwen2Spec, build_tiny_qwen2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder (a Hugging Face model folder)")
    p.add_argument("--hidden-size", type=int, default=TinyQwen2Spec.hidden_size)
    p.add_argument("--layers", type=int, default=TinyQwen2Spec.num_hidden_layers)
    p.add_argument("--heads", type=int, default=TinyQwen2Spec.num_attention_heads)
    p.add_argument("--kv-heads", type=int, default=TinyQwen2Spec.num_key_value_heads)
    p.add_argument("--intermediate-size", type=int, default=TinyQwen2Spec.intermediate_size)
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    spec = TinyQwen2Spec(
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        intermediate_size=args.intermediate_size,
        seed=args.seed,
    )
    out = build_tiny_qwen2(args.out, spec)
    print(out)
    return 0
