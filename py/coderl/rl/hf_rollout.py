"""A transformers rollout for verl 0.9.1's agent loop, so GRPO runs on a CPU (tests, this machine).

verl 0.9.1 generates every rollout through its agent loop, which talks to a rollout *server*
(`RolloutReplica` + a server actor with `generate(prompt_ids, sampling_params, request_id)`) and
syncs weights into it through a `BaseRollout` adapter living in the trainer's worker. The only
engines it ships for that are vLLM, SGLang and TensorRT-LLM (GPU builds); its `HFRollout`
(workers/rollout/hf_rollout.py) is the old synchronous interface, not registered for the agent loop.
This module plugs a small transformers engine into verl's own extension points:

  RolloutReplicaRegistry.register("coderl_hf", ...)                    the replica (launches the server actor)
  verl.workers.rollout.base._ROLLOUT_REGISTRY[("coderl_hf", "async")]   the weight-sync adapter

verl imports it in every process when VERL_USE_EXTERNAL_MODULES names it (coderl.rl.launch sets
that); the recipe then selects `actor_rollout_ref.rollout.name=coderl_hf`. It is for tiny models:
one sequence at a time, no KV-cache sharing. Real runs use vLLM.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Generator
from typing import Any

import ray
import torch
from verl.workers.rollout import base as rollout_base
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, RolloutReplicaRegistry, TokenOutput

log = logging.getLogger(__name__)

NAME = "coderl_hf"
_PREFIX = "coderl_hf_"


class HFRolloutServer:
    """The server actor: a transformers model on CPU answering verl's token-in/token-out generate()."""

    def __init__(self, config, model_config, replica_rank: int) -> None:
        from transformers import AutoModelForCausalLM

        self.config = config
        self.replica_rank = replica_rank
        path = getattr(model_config, "local_path", None) or model_config.path
        torch.set_num_threads(max(1, int(os.environ.get("CODERL_ROLLOUT_THREADS", "1"))))
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        gen = self.model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else self.model.config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        self.pad_id = gen.pad_token_id if gen.pad_token_id is not None else next(iter(self.eos_ids), 0)
        self.lock = asyncio.Lock()  # one generate at a time: the cores are the limit, not concurrency
        self.global_steps = 0
        self.weight_version = 0

    async def generate(
        self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str, **kwargs: Any
    ) -> TokenOutput:
        params = dict(sampling_params)
        max_len = self.config.prompt_length + self.config.response_length
        max_tokens = (
            params.pop("max_tokens", None)
            or params.pop("max_new_tokens", None)
            or min(self.config.response_length, max_len - len(prompt_ids))
        )
        async with self.lock:
            return await asyncio.to_thread(self._generate, list(prompt_ids), params, int(max_tokens))

    @torch.no_grad()
    def _generate(self, prompt_ids: list[int], params: dict[str, Any], max_tokens: int) -> TokenOutput:
        temperature = float(params.get("temperature", 1.0))
        do_sample = temperature > 0
        kw: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "do_sample": do_sample,
            "pad_token_id": self.pad_id,
            "eos_token_id": sorted(self.eos_ids),
            "return_dict_in_generate": True,
            "output_scores": True,
        }
        if do_sample:
            kw.update(
                temperature=temperature,
                top_p=float(params.get("top_p", 1.0)),
                top_k=int(params.get("top_k", -1)) if int(params.get("top_k", -1)) > 0 else 0,
            )
        ids = torch.tensor([prompt_ids])
        out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)
        new = out.sequences[0, len(prompt_ids) :].tolist()
        # log-probs of the sampled tokens under the sampling distribution (verl's processed_logprobs)
        logps = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(out.scores, new)]
        finished = bool(new) and new[-1] in self.eos_ids
        return TokenOutput(
            token_ids=new,
            log_probs=logps if params.get("logprobs") else None,
            stop_reason="completed",
            extra_fields={"finish_reason": "stop" if finished else "length"},
        )

    async def load_weights(self, named: dict[str, torch.Tensor], global_steps: int | None = None) -> dict[str, int]:
        """Replace the model's weights by the trainer's (names are Hugging Face parameter names)."""
        state = self.model.state_dict()
        unknown = sorted(set(named) - set(state))
        if unknown:
            raise RuntimeError(f"{NAME} rollout: trainer sent weights the model does not have: {unknown[:5]}")
        async with self.lock:
            for k, v in named.items():
                state[k].copy_(v.to(state[k].dtype))
            if "lm_head.weight" not in named and getattr(self.model.config, "tie_word_embeddings", False):
                self.model.tie_weights()
            self.weight_version += 1
        print(
            f"{NAME} rollout: loaded {len(named)} tensors from the trainer (weights version {self.weight_version})",
            flush=True,
        )
        if global_steps is not None:
            self.global_steps = global_steps
        return {"loaded": len(named), "version": self.weight_version}

    async def weight_checksum(self) -> float:
        """Sum of all parameters (tests use it to see the trainer's update arrive)."""
        return float(sum(p.detach().double().sum().item() for p in self.model.parameters()))

    # what verl's trainer and agent loop call on every server; nothing to free on CPU
    async def wake_up(self, tags: list[str] | None = None):
        return None

    async def sleep(self):
        return None

    async def clear_kv_cache(self):
        return None

    async def release_kv_cache(self):
        return None

    async def resume_kv_cache(self):
        return None

    async def set_global_steps(self, global_steps: int):
        self.global_steps = global_steps

    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False):
        return {}

    async def abort_request(self, request_id: str, reset_prefix_cache: bool = True):
        return {}

    async def resume_generation(self):
        return None

    async def start_profile(self, **kwargs):
        return None

    async def stop_profile(self):
        return None


class HFRolloutReplica(RolloutReplica):
    """One server actor per replica, no accelerator; the trainer's workers stay where they are."""

    def rollout_worker_use_gpu(self) -> bool:
        return False

    async def launch_servers(self) -> None:
        name = f"{_PREFIX}server_{self.replica_rank}_0{self.name_suffix}"
        server = (
            ray.remote(HFRolloutServer)
            .options(name=name, num_cpus=0, max_concurrency=self.max_concurrency)
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"{NAME}://{name}"  # no HTTP endpoint: verl's agent loop uses the handle


class HFServerAdapter(BaseRollout):
    """In the trainer's worker: hands each weight update to this replica's server actor."""

    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1, **kwargs) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        per_replica = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // per_replica if replica_rank == -1 else replica_rank
        self.has_server = rank % per_replica == 0  # the replica's first rank sends, the others only gather
        self.server_handle = None

    def _server(self):
        if self.server_handle is None:
            self.server_handle = ray.get_actor(f"{_PREFIX}server_{self.replica_rank}_0")
        return self.server_handle

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    @torch.no_grad()
    async def update_weights(
        self,
        weights: Generator[tuple[str, torch.Tensor], None, None],
        global_steps: int | None = None,
        wire_format: str = "named_tensors",
        **kwargs,
    ) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(
                f"{NAME} rollout: wire_format {wire_format!r}; use checkpoint_engine.backend=naive"
            )
        # every rank walks the generator (FSDP gathers full tensors collectively); one sends
        named = {}
        async for name, t in _aiter(weights):
            named[name] = t.detach().to("cpu", copy=True).contiguous()
        if self.has_server:
            await self._server().load_weights.remote(named, global_steps)


async def _aiter(weights):
    if hasattr(weights, "__aiter__"):
        async for item in weights:
            yield item
    else:
        for item in weights:
            yield item


def _register() -> None:
    RolloutReplicaRegistry.register(NAME, lambda: HFRolloutReplica)
    rollout_base._ROLLOUT_REGISTRY[(NAME, "async")] = f"{__name__}.HFServerAdapter"


_register()
