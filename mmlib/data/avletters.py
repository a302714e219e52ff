"""AVLetters (Matthews et al., 2002): 10 speakers saying the letters A-Z three times, lip video and audio.

- Video ``Lips/{L}{rep}_{Speaker}-lips.mat``: ``vid`` uint8 (4800 x frames), each column a 60x80 grayscale frame
  stored column-major (``reshape(80, 60, n).transpose(2, 1, 0)`` gives n x 60 x 80). Each frame is reduced by
  4x4 area averaging to 15x20 = 300 values, scaled to [0, 1].
- Audio ``Audio/mfcc/Clean/{L}{rep}_{Speaker}.mfcc``: HTK parameter files (big-endian 12-byte header: nSamples
  int32, sampPeriod int32, sampSize int16, parmKind int16; then nSamples x sampSize/4 float32 big-endian),
  26-d MFCC_E_D frames every 20 ms.

Both are zero-padded to the longest clip in the set, with ``frame_mask`` marking real frames.
"""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import scipy.io

from .cache import cached_arrays, require_file, unreadable
from .core import DataError, DatasetSpec, ModalitySpec, Splits, check_arrays, group_split, make_dataset

FOLDER = "avletters"
VERSION = "avletters-1"
SEED = 0
LIPS = Path("Lips")
AUDIO = Path("Audio") / "mfcc" / "Clean"
LIPS_NAME = re.compile(r"^([A-Z])(\d)_([A-Za-z]+)-lips\.mat$")
HEIGHT, WIDTH, POOL = 60, 80, 4
HTK_COMPRESSED = 0o2000


def read_htk(path: Path) -> np.ndarray:
    """nSamples x (sampSize / 4) float32 frames of an uncompressed HTK parameter file."""
    require_file(path, "HTK MFCC file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise unreadable(path, error) from error
    if len(raw) < 12:
        raise DataError(f"{path}: cannot be read, the file is truncated ({len(raw)} bytes, shorter than the "
                        "12-byte HTK header)")
    frames, _, size, kind = struct.unpack(">iihh", raw[:12])
    if kind & HTK_COMPRESSED:
        raise DataError(f"{path}: compressed HTK files (parmKind {kind}) are not supported")
    if frames <= 0 or size <= 0 or size % 4:
        raise DataError(f"{path}: bad HTK header (nSamples {frames}, sampSize {size})")
    if len(raw) != 12 + frames * size:
        raise DataError(f"{path}: cannot be read, the file is truncated or has extra bytes: the HTK header says "
                        f"{frames} frames of {size} bytes ({12 + frames * size} bytes), the file has {len(raw)}")
    return np.frombuffer(raw, dtype=">f4", offset=12).reshape(frames, size // 4).astype(np.float32)


def read_lips(path: Path) -> np.ndarray:
    """frames x 300: 60x80 frames averaged over 4x4 blocks to 15x20, scaled to [0, 1]."""
    require_file(path, "AVLetters lip video .mat file")
    try:
        mat = scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError, EOFError, IndexError, KeyError, AttributeError, RuntimeError,
            MemoryError, zlib.error, scipy.io.matlab.MatReadError) as error:
        raise unreadable(path, error, "expected a MATLAB .mat file with 'vid'") from error
    if "vid" not in mat:
        raise DataError(f"{path}: missing key 'vid'")
    vid = np.asarray(mat["vid"])
    if vid.ndim != 2 or vid.shape[0] != HEIGHT * WIDTH or vid.shape[1] == 0:
        raise DataError(f"{path}: 'vid' has shape {vid.shape}; expected ({HEIGHT * WIDTH}, frames)")
    n = vid.shape[1]
    frames = vid.reshape(WIDTH, HEIGHT, n).transpose(2, 1, 0).astype(np.float32)  # n x 60 x 80
    pooled = frames.reshape(n, HEIGHT // POOL, POOL, WIDTH // POOL, POOL).mean(axis=(2, 4)) / 255.0
    return pooled.reshape(n, -1)


def _clips(folder: Path) -> list[tuple[str, int, str]]:
    lips = folder / LIPS
    if not lips.is_dir():
        raise DataError(f"{lips}: folder not found (AVLetters lip videos, {{L}}{{rep}}_{{Speaker}}-lips.mat)")
    if not (folder / AUDIO).is_dir():
        raise DataError(f"{folder / AUDIO}: folder not found (AVLetters HTK MFCC files, {{L}}{{rep}}_{{Speaker}}.mfcc)")
    clips = sorted((m[1], int(m[2]), m[3]) for m in map(LIPS_NAME.match, (p.name for p in lips.iterdir())) if m)
    if not clips:
        raise DataError(f"{lips}: no files named {{L}}{{rep}}_{{Speaker}}-lips.mat")
    return clips


def _pad(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    longest = max(len(s) for s in sequences)
    out = np.zeros((len(sequences), longest, sequences[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(sequences), longest), dtype=bool)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s
        mask[i, : len(s)] = True
    return out, mask


def _prepare(folder: Path) -> dict[str, np.ndarray]:
    clips = _clips(folder)
    video, audio = [], []
    for letter, rep, speaker in clips:
        video.append(read_lips(folder / LIPS / f"{letter}{rep}_{speaker}-lips.mat"))
        audio_path = folder / AUDIO / f"{letter}{rep}_{speaker}.mfcc"
        audio.append(read_htk(audio_path))
        if audio[-1].shape[1] != audio[0].shape[1]:
            raise DataError(f"{audio_path}: {audio[-1].shape[1]}-d frames, but the other files have "
                            f"{audio[0].shape[1]}-d frames")
    video_x, video_mask = _pad(video)
    audio_x, audio_mask = _pad(audio)
    return {"audio": audio_x, "audio_mask": audio_mask, "video": video_x, "video_mask": video_mask,
            "y": np.array([ord(c[0]) - ord("A") for c in clips], dtype=np.int64),
            "speaker": np.array([c[2] for c in clips]), "rep": np.array([c[1] for c in clips], dtype=np.int64)}


def load(folder: Path) -> Splits:
    folder = Path(folder)
    _clips(folder)  # a clear error for missing folders before anything is hashed
    arrays = cached_arrays("avletters", [folder / LIPS, folder / AUDIO], VERSION, lambda: _prepare(folder))
    x = {"audio": arrays["audio"], "video": arrays["video"]}
    y, speaker = arrays["y"], arrays["speaker"]
    check_arrays(str(folder), x, y, num_classes=26)
    fit, val, test = group_split(speaker, [6, 1, 3], seed=SEED)
    names = [", ".join(sorted(np.unique(speaker[p]))) for p in (fit, val, test)]
    speakers = len(np.unique(speaker))
    spec = DatasetSpec(
        name="avletters",
        modalities=(ModalitySpec("audio", "sequence", x["audio"].shape[1:]),
                    ModalitySpec("video", "sequence", x["video"].shape[1:])),
        num_classes=26,
        class_names=tuple(chr(ord("A") + i) for i in range(26)),
        stands_in_for=(
            "Audio-video benchmarks (CREMA-D, Kinetics-Sound and AVE in CMPT): naturally paired audio and lip "
            f"video of {len(y)} spoken letters A-Z ({speakers} speakers x 3 repetitions). Audio: 26-d HTK MFCC "
            f"frames every 20 ms, padded to {x['audio'].shape[1]} frames; video: 60x80 lip frames averaged to "
            f"15x20 (300 values in [0, 1]), padded to {x['video'].shape[1]} frames. Audio is the strong "
            "modality, video the weak one."),
        split_rule=(
            f"Speaker-independent: the {speakers} speakers are drawn with group_split (seed 0) into 6 training "
            f"speakers ({names[0]}; {len(fit)} clips), 1 validation speaker ({names[1]}; {len(val)} clips) and "
            f"3 test speakers ({names[2]}; {len(test)} clips). No speaker is in two splits."),
    )

    def part(index):
        return make_dataset(spec, {k: v[index] for k, v in x.items()}, y[index],
                            frame_mask={"audio": arrays["audio_mask"][index], "video": arrays["video_mask"][index]},
                            groups=speaker[index])

    return Splits(spec, part(fit), part(val), part(test))
