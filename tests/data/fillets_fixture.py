"""A tiny Fish Fillets NG data folder in the real formats: ``dialogs_*.lua`` files and Ogg Vorbis clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

__all__ = ["make_game", "LINES"]

# (level, clip id, speaker, English, Czech, Dutch); None: the language has no line.
LINES = [
    ("reef", "ree-m-ryba", "font_small", "What a strange fish.", "Jaká divná ryba.", "Wat een rare vis."),
    ("reef", "ree-v-ano", "font_big", "Yes, \\\"fish\\\".", "Ano, \\\"ryba\\\".", "Ja, \\\"vis\\\"."),
    ("reef", "ree-m-znovu", "font_small", "What a strange fish.", "Jaká divná ryba!", "Wat een rare vis!"),
    ("reef", "ree-v-kamen", "font_big", "A stone. A big stone.", "Kámen. Velký kámen.", "Een steen."),
    ("reef", "ree-m-voda", "font_small", "Water everywhere.", "Všude voda.", "Overal water."),
    ("reef", "ree-v-ticho", "font_big", "Silence.", "Ticho.", "Stilte."),
    ("reef", "ree-m-rusky", "font_small", "Hello.", "Привет.", None),
    ("reef", "ree-v-nic", "font_big", "Nothing here.", None, None),
    ("reef", "ree-p-papousek", "font_parrot", "Pretty bird!", "Hezký pták!", None),
    ("cave", "cav-m-tma", "font_small", "It is dark in here.", "Je tu tma.", "Het is hier donker."),
    ("cave", "cav-v-svetlo", "font_big", "Where is the light?", "Kde je světlo?", "Waar is het licht?"),
    ("cave", "ree-m-ryba", "font_small", "Another fish.", "Další ryba.", "Nog een vis."),
]
BROKEN = ("reef", "ree-v-kamen")  # the Czech clip's file is not Ogg
SILENT = ("reef", "ree-v-ticho")  # the Czech clip holds digital silence
RATE = 22050


def _lua(language: str, rows: list[tuple]) -> str:
    column = {"cs": 4, "nl": 5}.get(language)
    out = []
    for level, clip, speaker, english, *texts in rows:
        out.append(f'dialogId("{clip}", "{speaker}", "{english}")')
        line = None if column is None else (level, clip, speaker, english, *texts)[column]
        if line is not None:
            # one line split over two, as some of the game's files write it
            out.append(f'dialogStr(\n"{line}")' if clip.endswith("kamen") else f'dialogStr("{line}")')
        out.append("")
    return "\n".join(out)


def _voice(seed: int, seconds: float = 0.6, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    wave = 0.3 * np.sin(2 * np.pi * (120 + 40 * seed % 200) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    wave += 0.01 * rng.standard_normal(len(t))
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def make_game(root: Path) -> Path:
    """Write the game folder: the scripts of every level and a clip per line and language.

    Returns:
        The folder to give as ``game_dir``.
    """
    game = root / "fillets-ng"
    for level in sorted({row[0] for row in LINES}):
        rows = [row for row in LINES if row[0] == level]
        (game / "script" / level).mkdir(parents=True)
        for language in ("cs", "nl", "en"):
            (game / "script" / level / f"dialogs_{language}.lua").write_text(_lua(language, rows), encoding="utf-8")
    for seed, (level, clip, *_rest) in enumerate(LINES):
        for language, channels in (("cs", 1), ("nl", 2)):
            folder = game / "sound" / level / language
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{clip}.ogg"
            if language == "cs" and (level, clip) == BROKEN:
                path.write_bytes(b"not an ogg file")
            else:
                wave = _voice(seed, channels=channels) * (0 if language == "cs" and (level, clip) == SILENT else 1)
                soundfile.write(path, wave, RATE, format="OGG", subtype="VORBIS")
    english = game / "sound" / "reef" / "en"
    english.mkdir(parents=True)
    soundfile.write(english / "ree-m-voda.ogg", _voice(99), RATE, format="OGG", subtype="VORBIS")
    return game
