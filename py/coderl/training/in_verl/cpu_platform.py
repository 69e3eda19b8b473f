"""A CPU platform for verl 0.9.1, registered through verl's own plugin hook.

verl has no CPU platform. `import verl` imports every module named in VERL_USE_EXTERNAL_MODULES,
so when the launcher sets

    VERL_USE_EXTERNAL_MODULES=coderl.training.in_verl.cpu_platform
    VERL_PLATFORM=cpu              # pick this platform instead of auto-detecting (falls back to CUDA)
    VERL_ENGINE_DEVICE=cuda        # the FSDP engine is registered for "cuda" only; it runs fine on CPU

this module registers `PlatformCPU` under the name "cpu" and replaces verl's global
process-group initializer (which asks for "cpu:gloo,<device>:<nccl>" and sets a CUDA device) by
a plain gloo one. The trainer is then run with trainer.device=cpu, sdpa attention and FSDP2
(FSDP1 fails on CPU); the launcher adds those overrides (recipe.cpu_overrides). verl's RL trainer
(Ray) works the same way (coderl.rl.launch): it reserves one logical Ray "GPU" per worker and its
workers get a plain gloo group too.

Importing this module has effects only inside verl: it is meant to be imported by verl itself.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import timedelta
from types import ModuleType
from typing import Any

import torch
import torch.distributed
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry

PLATFORM_NAME = "cpu"  # keep in sync with coderl.training.launch.CPU_ENV


class _CpuDeviceModule(ModuleType):
    """Stands in for torch.cuda where verl calls get_torch_device().<fn>(): memory stats, caches, RNG."""

    def __init__(self) -> None:
        super().__init__("coderl_cpu_device")

    def __getattr__(self, name: str) -> Any:
        # torch.cpu has a few of these (synchronize, current_device, ...); the rest are no-ops that
        # return 0 so verl's memory logging and cache flushing work unchanged.
        if hasattr(torch.cpu, name):
            return getattr(torch.cpu, name)
        if name in ("manual_seed", "manual_seed_all"):
            return lambda seed: torch.manual_seed(seed)
        if name in ("get_rng_state",):
            return lambda *a, **k: torch.get_rng_state()
        if name in ("set_rng_state",):
            return lambda state, *a, **k: torch.set_rng_state(state)
        if name == "mem_get_info":
            return _mem_get_info
        if name == "get_device_name":
            return lambda *a, **k: "CPU"
        if name == "is_available":
            return lambda: True
        if name == "device_count":
            return lambda: 1
        return _zero


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
    pages = os.sysconf("SC_PAGE_SIZE")
    return os.sysconf("SC_AVPHYS_PAGES") * pages, os.sysconf("SC_PHYS_PAGES") * pages


_DEVICE_MODULE = _CpuDeviceModule()


@PlatformRegistry.register(platform=PLATFORM_NAME)
class PlatformCPU(PlatformBase):
    """Runs verl's training engines on the host CPU with gloo collectives."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return _DEVICE_MODULE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # never auto-detected: only chosen explicitly with VERL_PLATFORM=cpu
        return False

    def current_device(self) -> str:  # type: ignore[override]
        # verl uses get_device_id() as a device (`.to(get_device_id())`); an int would mean cuda:N
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        # verl's RL trainer (Ray) counts and reserves one "GPU" per worker; on CPU those are logical
        # slots that coderl.rl.launch declares with ray.init(num_gpus=N). SFT (torchrun) never asks.
        return "GPU"

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        return {"num_gpus": num_gpus}

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def initialize_gloo_process_group(timeout_second: int = 36000) -> tuple[int, int, int]:
    """verl's initialize_global_process_group without the accelerator: one gloo group, no set_device."""
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(
            backend="gloo",
            timeout=timedelta(seconds=timeout_second),
            init_method=os.environ.get("DIST_INIT_METHOD", None),
        )
    return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])


def _install() -> None:
    # sft_trainer.run_sft imports initialize_global_process_group from verl.utils.distributed at
    # call time, so replacing the module attribute here (at `import verl`) is enough.
    import verl.utils.distributed as dist_utils

    dist_utils.initialize_global_process_group = initialize_gloo_process_group
    # the RL trainer's Ray workers ask for "cpu:gloo,cpu:gloo", which torch refuses (duplicate device);
    # engine_workers imports the function by name later, so replacing the attribute now is enough
    ray_init = dist_utils.initialize_global_process_group_ray

    def initialize_gloo_process_group_ray(timeout_second=None, backend=None):
        return ray_init(timeout_second=timeout_second, backend="gloo" if backend in (None, "cpu:gloo") else backend)

    dist_utils.initialize_global_process_group_ray = initialize_gloo_process_group_ray


if os.environ.get("VERL_PLATFORM", "").strip().lower() == PLATFORM_NAME:
    _install()
