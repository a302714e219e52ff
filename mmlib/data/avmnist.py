"""AV-MNIST from real parts: MNIST t10k digit images paired with Free Spoken Digit Dataset (FSDD) recordings.

Audio features are computed here with numpy/scipy: pre-emphasis 0.97, 25 ms Hann windows with a 10 ms hop
(200 and 80 samples at 8 kHz), a 256-point FFT power spectrum, 40 triangular mel filters (HTK mel scale,
0-4 kHz), log, DCT-II (orthonormal), first 20 coefficients. Each recording becomes a sequence of at most
100 frames: recordings longer than about 1 s are cropped to their first 100 frames (1 s), shorter ones are
zero-padded and ``frame_mask`` marks the real frames.

Pairing (deterministic, no randomness): for every digit d, the FSDD recordings of d are sorted by speaker and
recording index, and the MNIST t10k images of d are taken in file order. Training-split recordings (index 5-49)
use the first block of images of d, test-split recordings (index 0-4) the next block: the k-th recording of d
in a split gets the k-th image of that split's block, so no image is used twice.
"""
from __future__ import annotations

import gzip
import re
import wave
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.fft import dct, rfft

from .cache import cached_arrays, require_file, unreadable
from .core import DataError, DatasetSpec, ModalitySpec, Splits, check_arrays, make_dataset, stratified_split

MNIST_FOLDER = "mnist_t10k"
FSDD_FOLDER = "fsdd"
IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"
VERSION = "avmnist-1"
SEED = 0

RATE = 8000
WIN, HOP, NFFT, NMELS, NMFCC, MAX_FRAMES = 200, 80, 256, 40, 20, 100
PREEMPHASIS = 0.97
TEST_INDICES = range(5)  # FSDD's official test split: recording index 0-4
WAV_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


# --------------------------------------------------------------------------------------------------- MNIST

def _idx(path: Path, magic: int, dims: int) -> np.ndarray:
    require_file(path, "MNIST t10k, gzipped IDX")
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise unreadable(path, error, "expected a gzipped IDX file") from error
    header = 4 + 4 * dims
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path}: not an IDX file with magic number {magic}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(f"{path}: IDX header says {shape} but the file holds {len(raw) - header} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _idx(folder / IMAGES, 2051, 3)
    labels = _idx(folder / LABELS, 2049, 1)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataError(f"{folder / IMAGES}: {images.shape} images do not match {labels.shape[0]} labels of 28x28")
    if labels.max() > 9:
        raise DataError(f"{folder / LABELS}: label {labels.max()} out of range (expected 0..9)")
    return images, labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------------- FSDD

def recordings(folder: Path) -> list[tuple[int, str, int, Path]]:
    """(digit, speaker, index, path) of every recording, sorted by digit, speaker, index; checks completeness."""
    rec_dir = folder / "recordings"
    if not rec_dir.is_dir():
        raise DataError(f"{rec_dir}: folder not found (FSDD recordings, {{digit}}_{{speaker}}_{{index}}.wav)")
    found = []
    for path in rec_dir.iterdir():
        match = WAV_NAME.match(path.name)
        if match:
            found.append((int(match[1]), match[2], int(match[3]), path))
    found.sort(key=lambda r: r[:3])
    if not found:
        raise DataError(f"{rec_dir}: no recordings named {{digit}}_{{speaker}}_{{index}}.wav")
    have = {r[:3] for r in found}
    speakers = sorted({r[1] for r in found})
    for digit in range(10):
        for speaker in speakers:
            for index in range(50):
                if (digit, speaker, index) not in have:
                    raise DataError(f"{rec_dir / f'{digit}_{speaker}_{index}.wav'}: not found (FSDD has 50 "
                                    f"recordings of every digit by every speaker; {len(found)} wav files present)")
    return found


def read_wav(path: Path) -> np.ndarray:
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate, frames = (handle.getnchannels(), handle.getsampwidth(), handle.getframerate(),
                                             handle.getnframes())
            raw = handle.readframes(frames)
    except (wave.Error, EOFError, OSError) as error:
        raise unreadable(path, error, "expected a PCM wav file") from error
    if (channels, width, rate) != (1, 2, RATE):
        raise DataError(f"{path}: expected mono 16-bit {RATE} Hz audio, found {channels} channel(s), "
                        f"{8 * width}-bit, {rate} Hz")
    if len(raw) != 2 * frames or frames == 0:
        raise DataError(f"{path}: truncated audio ({len(raw) // 2} of {frames} samples)")
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0


def _mel_filters() -> np.ndarray:
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(0.0), mel(RATE / 2), NMELS + 2))
    freqs = np.linspace(0, RATE / 2, NFFT // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))  # NMELS x (NFFT/2 + 1)


_FILTERS = _mel_filters()


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    from scipy.signal import get_window  # imported here: scipy.signal takes a second or more to import

    return get_window("hann", WIN, fftbins=True)


def mfcc(signal: np.ndarray) -> np.ndarray:
    """Frames x 20 MFCCs of a mono 8 kHz signal (all frames; the caller crops)."""
    signal = np.append(signal[:1], signal[1:] - PREEMPHASIS * signal[:-1])
    if len(signal) < WIN:
        signal = np.pad(signal, (0, WIN - len(signal)))
    count = 1 + (len(signal) - WIN) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(signal, WIN)[::HOP][:count] * _window()
    power = np.abs(rfft(frames, n=NFFT, axis=1)) ** 2
    return dct(np.log(power @ _FILTERS.T + 1e-10), type=2, norm="ortho", axis=1)[:, :NMFCC]


# ------------------------------------------------------------------------------------------------- pairing

def _prepare(mnist_folder: Path, fsdd_folder: Path) -> dict[str, np.ndarray]:
    images, image_labels = read_mnist(mnist_folder)
    recs = recordings(fsdd_folder)
    n = len(recs)
    audio = np.zeros((n, MAX_FRAMES, NMFCC), dtype=np.float32)
    frame_mask = np.zeros((n, MAX_FRAMES), dtype=bool)
    lengths = np.zeros(n, dtype=np.int64)
    for i, (_, _, _, path) in enumerate(recs):
        features = mfcc(read_wav(path))
        lengths[i] = len(features)
        t = min(len(features), MAX_FRAMES)
        audio[i, :t] = features[:t]
        frame_mask[i, :t] = True
    digit = np.array([r[0] for r in recs], dtype=np.int64)
    speaker = np.array([r[1] for r in recs])
    index = np.array([r[2] for r in recs], dtype=np.int64)
    is_test = np.isin(index, list(TEST_INDICES))
    image_index = np.zeros(n, dtype=np.int64)
    for d in range(10):
        pool = np.flatnonzero(image_labels == d)  # MNIST images of digit d in file order
        train = np.flatnonzero((digit == d) & ~is_test)  # already sorted by speaker, index
        test = np.flatnonzero((digit == d) & is_test)
        if len(pool) < len(train) + len(test):
            raise DataError(f"{mnist_folder / IMAGES}: only {len(pool)} images of digit {d} for "
                            f"{len(train) + len(test)} recordings")
        image_index[train] = pool[: len(train)]
        image_index[test] = pool[len(train): len(train) + len(test)]
    return {"image": images[image_index][:, None], "audio": audio, "frame_mask": frame_mask, "y": digit,
            "speaker": speaker, "index": index, "is_test": is_test, "image_index": image_index,
            "frames": lengths}


def _pairs(mnist_folder: Path, fsdd_folder: Path) -> dict[str, np.ndarray]:
    mnist_folder, fsdd_folder = Path(mnist_folder), Path(fsdd_folder)
    sources = [require_file(mnist_folder / IMAGES, "MNIST t10k images"),
               require_file(mnist_folder / LABELS, "MNIST t10k labels"), fsdd_folder / "recordings"]
    if not sources[2].is_dir():
        recordings(fsdd_folder)  # raises the DataError naming the folder
    return cached_arrays("avmnist", sources, VERSION, lambda: _prepare(mnist_folder, fsdd_folder))


def load(mnist_folder: Path, fsdd_folder: Path, variant: str = "avmnist") -> Splits:
    arrays = _pairs(mnist_folder, fsdd_folder)
    y, is_test = arrays["y"], arrays["is_test"].astype(bool)
    x = {"image": arrays["image"].astype(np.float32) / 255.0, "audio": arrays["audio"]}
    check_arrays(f"{mnist_folder} + {fsdd_folder}", x, y, num_classes=10)
    pool = np.flatnonzero(~is_test)  # training-split recordings, in (digit, speaker, index) order
    test = np.flatnonzero(is_test)
    cropped = int((arrays["frames"] > MAX_FRAMES).sum())
    if variant == "avmnist":
        fit, val = (pool[p] for p in stratified_split(y[pool], [0.9, 0.1], seed=SEED))
        rule = (f"Test: FSDD's official test split, recording index 0-4 of every digit and speaker "
                f"({len(test)} recordings). Validation: 10% of the {len(pool)} training pairs, stratified by digit "
                f"(seed 0; {len(val)} pairs); the other {len(fit)} pairs train.")
    elif variant == "avmnist_mce":
        n_fit, n_val = 1050, 150
        fit, val, _ = (pool[p] for p in stratified_split(y[pool], [n_fit, n_val, len(pool) - n_fit - n_val],
                                                          seed=SEED))
        rule = (f"MCE's setting of {len(fit) + len(val) + len(test)} pairs. Test: FSDD's official test split, "
                f"recording index 0-4 of every digit and speaker ({len(test)} recordings). Train and validation: "
                f"{len(fit) + len(val)} of the {len(pool)} training-split recordings drawn stratified by digit "
                f"(seed 0; {(len(fit) + len(val)) // 10} per digit): {len(fit)} train and {len(val)} validation, "
                f"so 70% of the pairs train, as in the MCE paper.")
    else:
        raise DataError(f"unknown AV-MNIST variant {variant!r}")
    rule += (" Pairing: the recordings of each digit, sorted by speaker and index, are matched in order with the "
             "MNIST t10k images of that digit in file order, training-split recordings with the first block of "
             "images and test recordings with the next block, so every image is used once.")
    spec = DatasetSpec(
        name=variant,
        modalities=(ModalitySpec("image", "image", (1, 28, 28)), ModalitySpec("audio", "sequence", (MAX_FRAMES, NMFCC))),
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        stands_in_for=(
            ("AudiovisionMNIST (MCE)" if variant == "avmnist_mce" else "AV-MNIST (MGR) and AudiovisionMNIST (MCE)")
            + ": a handwritten digit image paired with a spoken recording of the same digit. Built from real parts: "
            "MNIST t10k images (1x28x28, scaled to [0, 1]) and Free Spoken Digit Dataset recordings (6 speakers, "
            "8 kHz), whereas the original benchmarks use other audio sources. The audio is a sequence of 20 MFCCs "
            "per 10 ms frame (25 ms Hann windows, 40 mel filters), cropped to the first 1 s (100 frames; "
            f"{cropped} of the {len(y)} recordings are longer) and zero-padded, with frame_mask marking real frames."),
        split_rule=rule,
    )

    def part(index):
        return make_dataset(spec, {k: v[index] for k, v in x.items()}, y[index],
                            frame_mask={"audio": arrays["frame_mask"][index]}, groups=arrays["speaker"][index])

    return Splits(spec, part(fit), part(val), part(test))
