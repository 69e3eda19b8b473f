"""The step folder's caches: only lines of this (checkpoint, dataset, fingerprint) come back; a torn tail is dropped."""

from coderl.evaluation.outputs import DatasetCache, StepOutputs, checkpoint_id


def test_cache_returns_only_its_own_key_and_survives_a_torn_tail(tmp_path):
    out = StepOutputs.for_step(tmp_path, "p", 5)
    mine = DatasetCache(out, "humaneval", "ck@1", "fpA")
    mine.add_generation("HumanEval/0", {"completion": "a"})
    DatasetCache(out, "humaneval", "ck@1", "fpB").add_generation("HumanEval/1", {"completion": "other config"})
    DatasetCache(out, "humaneval", "ck@2", "fpA").add_generation("HumanEval/2", {"completion": "other weights"})
    mine.add_generation("HumanEval/0", {"completion": "b"})  # a later line for the same id wins
    with open(out.generation_cache("humaneval"), "a") as f:
        f.write('{"checkpoint_id": "ck@1", "dataset": "humaneval", "fingerprint": "fpA", "id": "HumanEval/3", "gen')
    assert mine.generations() == {"HumanEval/0": {"completion": "b"}}
    mine.add_generation("HumanEval/4", {"completion": "c"})  # the append repairs the torn tail first
    assert set(mine.generations()) == {"HumanEval/0", "HumanEval/4"}
    assert mine.records() == {}


def test_checkpoint_id_changes_when_the_weights_change(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"1234")
    a = checkpoint_id(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"123456")
    assert (
        checkpoint_id(str(tmp_path)) != a
        and checkpoint_id("Qwen/Qwen2.5-Coder-7B-Instruct") == "Qwen/Qwen2.5-Coder-7B-Instruct"
    )
