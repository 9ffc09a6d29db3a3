"""Long recordings: predicted in chunks cut at pauses with flat memory, or refused before the forward pass."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import torch
from omegaconf import OmegaConf

from tests.tasks import long_audio
from tests.tasks.long_audio import CHUNK_SECONDS, SAMPLE_RATE
from tformer.checkpoint import KEY, describe
from tformer.cli.predict import predict_file
from tformer.core import EncoderDecoder
from tformer.tasks import TranslationTask
from tformer.tokenizers import AudioFbankTokenizer, TextCharTokenizer
from tformer.tokenizers.audio_chunks import audio_chunks

ROOT = Path(__file__).resolve().parents[2]
# 8 more minutes held as float32 samples would be 30.7 MB; allocator noise between runs measured ~2 MB.
FLAT_MB = 20.0
GAP = round(long_audio.GAP_SECONDS * SAMPLE_RATE)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A 15-s, 30-s, 2- and 10-minute recording of espeak-ng clips with 0.6 s silences, and their layouts."""
    folder = tmp_path_factory.mktemp("long")
    waves = long_audio.clips(folder)
    layouts = {minutes: long_audio.write_long(folder / f"{minutes}min.wav", waves, 60 * minutes) for minutes in (0.25, 0.5, 2, 10)}
    return {minutes: (folder / f"{minutes}min.wav", layout) for minutes, layout in layouts.items()}


@pytest.fixture
def one_thread():
    """Decode on one thread: the untrained model writes until the length limit, and threads only
    contend on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _peak_mb(jobs: dict[str, list[str]]) -> dict[str, float]:
    """Run ``python -m tests.tasks.long_audio ARGS`` for each job at once; each one's peak RSS in MB."""
    running = {name: subprocess.Popen([sys.executable, "-m", "tests.tasks.long_audio", *args], cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, args in jobs.items()}
    peaks = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err[-2000:]
        peaks[name] = json.loads(out.strip().splitlines()[-1])["max_rss_mb"]
    return peaks


@pytest.mark.slow  # three fresh processes that import torch: about 40 s on 2 busy cores
def test_peak_memory_stays_flat_as_the_recording_grows(recordings):
    jobs = {"chunked 2": [str(recordings[2][0]), "chunked"], "chunked 10": [str(recordings[10][0]), "chunked"],
            "whole 10": [str(recordings[10][0]), "whole"]}
    peaks = _peak_mb(jobs)
    print(peaks)
    assert peaks["chunked 10"] - peaks["chunked 2"] < FLAT_MB, peaks
    # The control: holding the 10-minute recording's samples and features at once would break the bound.
    assert peaks["whole 10"] - peaks["chunked 2"] > FLAT_MB, peaks


def _spans(path: Path) -> list[tuple[int, int]]:
    """(first sample, end sample) of each chunk the chunker makes of the recording at ``path``."""
    chunks = list(audio_chunks(str(path), CHUNK_SECONDS, SAMPLE_RATE))
    spans = [(round(c.start_seconds * SAMPLE_RATE), round(c.start_seconds * SAMPLE_RATE) + c.wave.numel()) for c in chunks]
    assert all(end - start <= CHUNK_SECONDS * SAMPLE_RATE for start, end in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])) and spans[-1][1] == soundfile.info(str(path)).frames
    return spans


def test_chunks_are_cut_in_the_silences_between_clips(recordings):
    path, layout = recordings[0.5]
    spans = _spans(path)
    wave = torch.from_numpy(soundfile.read(str(path), dtype="float32")[0])
    in_memory = list(audio_chunks(wave, CHUNK_SECONDS, SAMPLE_RATE))
    assert [round(c.start_seconds * SAMPLE_RATE) for c in in_memory] == [start for start, _ in spans]  # as its file
    gaps = list(zip(layout.ends, layout.starts[1:]))  # (end of a clip's sound, start of the next's)
    for (_, end), (start, _) in zip(spans, spans[1:]):  # what a cut leaves out lies in one gap
        assert any(gap_end <= end <= start <= gap_start for gap_end, gap_start in gaps), (end, start)
    assert len(spans) == len(layout.clips)  # one cut in every pause: a chunk per clip
    assert all(start - end >= 0.5 * GAP for (_, end), (start, _) in zip(spans, spans[1:]))  # most of a pause is left out


def test_a_recording_no_longer_than_a_chunk_is_predicted_whole(recordings, one_thread):
    path, layout = recordings[0.25]
    wave = torch.from_numpy(soundfile.read(str(path), dtype="float32")[0])[: layout.starts[2]]  # two clips, a pause
    assert [c.wave.numel() for c in audio_chunks(wave, CHUNK_SECONDS, SAMPLE_RATE)] == [wave.numel()]
    task = long_audio.tiny_asr()
    long_audio.write_until_limit(task)
    assert task.predict([wave]) == task.predict([wave], chunk_seconds=None)


def test_speech_without_a_pause_is_cut_at_its_quietest_moment_in_the_last_third():
    noise = 0.1 * torch.randn(20 * SAMPLE_RATE, generator=torch.Generator().manual_seed(0))
    dip = slice(round(5.0 * SAMPLE_RATE), round(5.15 * SAMPLE_RATE))  # quieter, but shorter than a pause
    noise[dip] *= 0.01
    chunks = list(audio_chunks(noise, CHUNK_SECONDS, SAMPLE_RATE))
    assert dip.start <= chunks[1].start_seconds * SAMPLE_RATE < dip.stop
    for chunk in chunks[1:-1]:  # no dip: somewhere in the last third
        assert CHUNK_SECONDS * 2 / 3 <= chunk.wave.numel() / SAMPLE_RATE <= CHUNK_SECONDS


def test_the_chunked_transcript_joins_the_decodings_of_its_pieces(recordings, one_thread):
    path, _ = recordings[0.25]
    task = long_audio.tiny_asr()
    long_audio.write_until_limit(task)
    wave = torch.from_numpy(soundfile.read(str(path), dtype="float32")[0])
    pieces = [wave[start:end] for start, end in _spans(path)]  # whole clips with a little silence around them
    per_piece = task.predict(pieces, chunk_seconds=None)
    assert all(per_piece)  # the model writes text for each piece, so a mix-up shows
    expected = " ".join(p for p in per_piece if p)
    assert task.predict([str(path)], chunk_seconds=CHUNK_SECONDS) == [expected]


def _learned_asr(max_len: int, chunk_seconds: float | None) -> TranslationTask:
    source = AudioFbankTokenizer(d_model=16, n_mels=20, conv_channels=4, positions="learned", max_len=max_len,
                                 chunk_seconds=chunk_seconds)
    target = TextCharTokenizer(d_model=16, alphabet="ab")
    return TranslationTask({"source": source, "target": target}, EncoderDecoder(16, 2, 1, 1, 32), max_len_offset=0).eval()


def _must_not_run(*args, **kwargs):
    raise AssertionError("the forward pass ran")


def test_a_recording_too_long_without_chunks_stops_before_the_forward_pass():
    task = _learned_asr(max_len=50, chunk_seconds=1.5)  # 50 encoder frames of 40 ms: 2 s
    task.source.forward = _must_not_run
    three_seconds = 0.1 * torch.randn(3 * SAMPLE_RATE)  # 301 frames -> ((301 - 1) // 2 - 1) // 2 = 74
    with pytest.raises(ValueError, match=r"input 0 needs 74 positions \(one per encoder frame \(40 ms each\)\), "
                                         r"more than the 50 the model takes \(the source tokenizer's max_len\); predict "
                                         r"it in chunks: predict\(inputs, chunk_seconds=1.5\) or tformer-predict "
                                         r"chunk_seconds=1.5"):
        task.predict([three_seconds], chunk_seconds=None)


def test_chunks_longer_than_the_positions_name_the_longest_that_fits():
    with pytest.raises(ValueError, match=r"source.chunk_seconds=20: chunks of 20 s make 499 encoder frames, more "
                                         r"than the 50 the model takes \(max_len\); choose at most 2.0 s"):
        _learned_asr(max_len=50, chunk_seconds=20.0)
    task = _learned_asr(max_len=50, chunk_seconds=None)
    with pytest.raises(ValueError, match=r"chunk_seconds=3: chunks of 3 s make 74 encoder frames"):
        task.predict([0.1 * torch.randn(5 * SAMPLE_RATE)], chunk_seconds=3)


@pytest.mark.parametrize("value", [0, -1, "soon"])
def test_a_chunk_length_that_is_no_length_is_refused(value):
    with pytest.raises(ValueError, match=rf"chunk_seconds={value!r}: give a positive number of seconds, 'auto'"):
        long_audio.tiny_asr().predict([torch.zeros(SAMPLE_RATE)], chunk_seconds=value)


def test_inputs_that_do_not_cut_refuse_chunks_and_auto_leaves_them_whole():
    text = TextCharTokenizer(d_model=16, alphabet="ab")
    task = TranslationTask({"source": text, "target": text}, EncoderDecoder(16, 2, 1, 1, 32), max_len_offset=0).eval()
    with pytest.raises(ValueError, match="chunk_seconds=5: TranslationTask cannot predict its TextCharTokenizer "
                                         "inputs in chunks; set chunk_seconds=null"):
        task.predict(["ab"], chunk_seconds=5)
    assert task.predict(["ab"]) == task.predict(["ab"], chunk_seconds=None)


def test_tformer_predict_transcribes_a_long_file_in_chunks_and_says_why_not_without(tmp_path, one_thread):
    task = long_audio.tiny_asr()
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": task.state_dict(), KEY: describe(task)}, ckpt)
    path = tmp_path / "ten_seconds.wav"
    long_audio.write_long(path, long_audio.clips(tmp_path), 10)
    options = {"ckpt": str(ckpt), "input": str(path), "batch_size": 1, "device": "cpu", "beam_size": None,
               "on_error": "skip"}
    chunked = tmp_path / "chunked.jsonl"
    predict_file(OmegaConf.create({**options, "output": str(chunked), "chunk_seconds": CHUNK_SECONDS}))
    assert json.loads(chunked.read_text())["prediction"] == task.predict([str(path)], chunk_seconds=CHUNK_SECONDS)[0]
    whole = tmp_path / "whole.jsonl"
    spec = describe(task)
    spec["fields"]["source"]["kwargs"].update(max_len=100, chunk_seconds=3.0)  # at most 4 s, in chunks of 3 s
    torch.save({"state_dict": task.state_dict(), KEY: spec}, ckpt)
    predict_file(OmegaConf.create({**options, "output": str(whole), "chunk_seconds": None}))
    error = json.loads(whole.read_text())["error"]
    assert "more than the 100 the model takes" in error and "tformer-predict chunk_seconds=3" in error, error
    with pytest.raises(ValueError, match="chunk_seconds=-2: give a positive number"):
        predict_file(OmegaConf.create({**options, "output": str(tmp_path / "x.jsonl"), "chunk_seconds": -2}))
