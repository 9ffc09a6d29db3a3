"""benchmarks/speed_steps.py runs on tiny shapes; its timings are not checked, its bytes are."""

from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_speed_steps_runs_and_both_memory_switches_save_bytes(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not a package
    from benchmarks import speed_steps

    threads = torch.get_num_threads()
    try:
        # compile is left out: compiling takes a minute (tests/test_compiling.py checks what it compiles)
        lines = speed_steps.main(["--quick", "--repeats", "1", "--threads", "1", "--only", "adamw,checkpoint,chunked"])
    finally:
        torch.set_num_threads(threads)
    assert len(lines) == 6 and all(line.off > 0 and line.on > 0 for line in lines)
    memory = [line for line in lines if line.saved_off is not None]
    assert [line.name.split(" ")[0] for line in memory] == ["checkpoint_activations", "cross_entropy.chunk_size=16"]
    assert all(line.saved_on < line.saved_off for line in memory)
    assert "load average after" in capsys.readouterr().out
