"""coderl.training.benchmarks.profiled_sft: the profile summary a human reads after `bench-train --profile-steps`."""

import torch

from coderl.training.benchmarks import profiled_sft


def test_busy_time_is_the_union_of_overlapping_intervals():
    assert profiled_sft._busy_us([]) == 0.0
    # [0,10) and [5,20) overlap -> 20; [30,35) apart -> +5; [31,32) inside -> +0
    assert profiled_sft._busy_us([(5, 20), (0, 10), (30, 35), (31, 32)]) == 25.0


def test_summary_names_the_ops_and_the_wall_time():
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        x = torch.randn(256, 256)
        for _ in range(3):
            x = (x @ x).tanh()
        x.sum().item()
    text = profiled_sft.summarize(prof, wall_s=0.5, n_steps=2)
    assert text.startswith("profiled steps: 2, wall 0.500 s (0.250 s/step)")
    assert "aten::mm" in text and "aten::item" in text  # the op table and the host-sync count
    assert "top ops by self CPU time" in text


def test_window_from_env(monkeypatch):
    monkeypatch.setenv("CODERL_PROFILE_STEPS", "7,9")
    assert profiled_sft._window() == (7, 9)
    monkeypatch.setenv("CODERL_PROFILE_STEPS", "4")
    assert profiled_sft._window() == (4, 4)
