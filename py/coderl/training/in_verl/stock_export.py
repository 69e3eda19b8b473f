"""Checkpoint exports that load anywhere: the recipe's attention choice stays out of the saved config.

verl 0.9.1 reads the attention implementation from `model.override_config.attn_implementation`. It
hands it to `AutoConfig.from_pretrained(attn_implementation=...)`, which is what the model runs
with (the config's private `_attn_implementation`), and then also sets every override_config key
as a public config attribute (`verl.utils.model.update_model_config`). `config.save_pretrained`
writes that public copy into every `global_step_N/huggingface/config.json`, so a default-recipe
export said `"attn_implementation": "coderl_varlen"`, which stock transformers and vLLM refuse.

verl imports this module in every rank (`model.external_lib`) before it builds the model config;
it wraps the `update_model_config` that verl's HFModelConfig calls so that the public copy is
dropped again. Training still runs with the chosen implementation; the saved config carries none.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# override_config keys that only choose how this process computes, never what the model is
RUNTIME_ONLY_KEYS = ("attn_implementation",)


def _strip_runtime_keys(update_model_config):
    def update_without_runtime_keys(module_config, override_config_kwargs):
        update_model_config(module_config, override_config_kwargs)
        for key in RUNTIME_ONLY_KEYS:
            if key in override_config_kwargs and key in vars(module_config):
                delattr(module_config, key)  # the private _attn_implementation keeps the choice

    update_without_runtime_keys.coderl_wrapped = True
    return update_without_runtime_keys


def install() -> None:
    import verl.workers.config.model as verl_model_config

    if getattr(verl_model_config.update_model_config, "coderl_wrapped", False):
        return
    verl_model_config.update_model_config = _strip_runtime_keys(verl_model_config.update_model_config)
    log.info("coderl: %s kept out of the saved HF config", ", ".join(RUNTIME_ONLY_KEYS))


install()
