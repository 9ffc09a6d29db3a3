"""benchmarks/ocr_peer: the scores it reports, and Tesseract reading a clean line (where installed)."""

import shutil
from pathlib import Path

import pytest

from tests.data.text_lines_fixture import DEJAVU, line_images

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ocr_peer(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not a package
    from benchmarks import ocr_peer

    return ocr_peer


def test_scores_are_edit_distances_over_the_whole_set(ocr_peer):
    result = ocr_peer.scores(["abc", "a b c"], ["abd", "a x c"])  # 2 of 8 characters, 2 of 4 words wrong
    assert result == pytest.approx({"cer": 2 / 8, "wer": 2 / 4})
    table = ocr_peer.table({"tesseract": {"distorted": result, "clean": {"cer": 0.0, "wer": 0.0}}})
    assert table.splitlines()[2] == "| tesseract | 25.00 % | 50.00 % | 0.00 % | 0.00 % |"


@pytest.mark.skipif(shutil.which("tesseract") is None or not (DEJAVU / "DejaVuSans.ttf").is_file(),
                    reason="needs tesseract-ocr and fonts-dejavu-core")
def test_tesseract_reads_clean_lines_and_both_renderings_are_scored(ocr_peer, tmp_path):
    texts = ["Where is the station?", "The quick brown fox."]
    line_images(tmp_path, texts)
    paths = [str(tmp_path / f"{i}.png") for i in range(2)]
    summary, records = ocr_peer.compare({"distorted": (paths, texts), "clean": (paths, texts)}, None, workers=2)
    assert summary["tesseract"]["clean"]["cer"] == 0.0 and summary["tesseract"]["distorted"]["wer"] == 0.0
    assert [r["prediction"] for r in records] == texts * 2 and {r["rendering"] for r in records} == {"distorted", "clean"}
