"""The task plug-in example of docs/extend.md (a denoising autoencoder) installs, trains by name,
saves, loads and predicts, with nothing but the installed package on PYTHONPATH."""

from __future__ import annotations

import json
import textwrap

from tests import plugin_example
from tests.robustness.conftest import run_cli


def test_the_docs_hold_the_whole_example_task():
    files = plugin_example.example_files(plugin_example.DENOISE)
    assert sorted(files) == sorted(plugin_example.FILES[plugin_example.DENOISE])
    assert '@TASKS.register("denoising")' in files["tformer_denoise/__init__.py"]


def test_a_task_plugin_trains_by_name_and_predicts(denoise_site, tmp_path):
    rows = ["ich sehe das haus", "du bist gut", "der hund ist rot", "katze"] * 5
    (tmp_path / "texts.tsv").write_text("".join(f"{row}\tx\n" for row in rows), encoding="utf-8")
    result = run_cli("train", "task=denoising", "target=text_char", "data=labeled_text",
                     f"data.train.path={tmp_path / 'texts.tsv'}", "+data.fields={text: source}", "model=tiny",
                     "trainer.max_steps=4", "data.batch_size=4", "data.num_workers=0", "trainer.enable_progress_bar=false",
                     f"hydra.run.dir={tmp_path / 'run'}", pythonpath=denoise_site)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    spec = textwrap.dedent(f"""
        import torch, tformer
        spec = torch.load({metrics['checkpoint']!r}, weights_only=True)["tformer"]
        print(spec["task"], sorted(spec["fields"]), spec["generator"]["name"])
        print(tformer.load({metrics['checkpoint']!r}).predict(["du bist gut", ""]))
    """)
    loaded = plugin_example.run_python(spec, denoise_site, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    first, second = loaded.stdout.strip().splitlines()[-2:]
    assert first == "denoising ['text'] greedy"
    assert second.startswith("[") and second.endswith("]") and second.count("'") >= 4  # two strings
