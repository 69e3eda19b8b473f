"""How several evaluations share one box: GPU groups, server ports, judge workers.

Pure arithmetic, no scheduling: Ray places the evaluations (evaluation/ray_eval.py); this module
only says what each one gets once placed. With GPUS=N and TP=k, N // k evaluations run at once,
each with its own server on its own k GPUs (CUDA_VISIBLE_DEVICES) and its own port, and each judging
with cores // (evaluations at once on that node) workers, so that four evaluations judging together
do not oversubscribe the CPU (an oversubscribed core makes the 30 s limit fail honest programs).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def concurrent_evaluations(gpus: int, tp: int) -> int:
    """GPUS // TP, refusing a split that would leave GPUs idle or a TP group incomplete."""
    if gpus < 1:
        raise ConfigError(f"GPUS={gpus}: give the number of GPUs to use (1 or more)")
    if tp < 1:
        raise ConfigError(f"TP={tp}: the tensor-parallel size is 1 or more")
    if gpus % tp:
        raise ConfigError(
            f"GPUS={gpus} is not a multiple of TP={tp}: every evaluation needs TP whole GPUs; "
            f"use GPUS={gpus - gpus % tp or tp} or another TP"
        )
    return gpus // tp


def judge_workers(cores: int, concurrent: int) -> int:
    """Judge threads for one evaluation when `concurrent` evaluations share `cores` cores (at least 1)."""
    return max(1, int(cores) // max(1, int(concurrent)))


def server_port(base_port: int, gpu_ids: list[int]) -> int:
    """A port per GPU group on a node: base + its first GPU id (groups never share a GPU, so never a port)."""
    return int(base_port) + (min(gpu_ids) if gpu_ids else 0)


def backend_options(kind: str, gpu_ids: list[int], tp: int, base_port: int) -> dict[str, Any]:
    """ServedBackend options pinning a started server to its GPUs and port; other backends need none
    (hf runs in the task's process, which Ray already pinned through CUDA_VISIBLE_DEVICES)."""
    if kind != "vllm":
        return {}
    return {
        "port": server_port(base_port, gpu_ids),
        "env": {"CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in gpu_ids)},
        # the last --tensor-parallel-size wins over cfg.serving's (serving is not fingerprinted)
        "extra_args": ("--tensor-parallel-size", str(tp)),
    }
