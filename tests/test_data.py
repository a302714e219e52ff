"""Tests of the data loaders: documented sizes and shapes of the real datasets, split rules, the npz format,
the cache, the fetch script, and one DataError naming the file for every kind of bad input."""
from __future__ import annotations

import json
import shutil
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from mmlib.data import DataError, data_root, dataset_names, describe_datasets, load_dataset
from mmlib.data import avletters, avmnist, cache

SIZES = {  # name: (train, val, test)
    "mosi": (1447, 260, 492),
    "avmnist": (2430, 270, 300),
    "avmnist_mce": (1050, 150, 300),
    "mfeat": (1400, 200, 400),
    "cub": (420, 60, 120),
    "scene15": (3139, 449, 897),
    "landuse21": (1470, 210, 420),
    "msrc": (147, 21, 42),
    "avletters": (468, 78, 234),
}
TOTALS = {"mosi": 2199, "avmnist": 3000, "avmnist_mce": 1500, "mfeat": 2000, "cub": 600, "scene15": 4485,
          "landuse21": 2100, "msrc": 210, "avletters": 780}
MODALITIES = {
    "mosi": [("text", "vector", (50,)), ("audio", "vector", (50,)), ("video", "vector", (50,))],
    "avmnist": [("image", "image", (1, 28, 28)), ("audio", "sequence", (100, 20))],
    "avmnist_mce": [("image", "image", (1, 28, 28)), ("audio", "sequence", (100, 20))],
    "mfeat": [(v, "vector", (d,)) for v, d in [("fac", 216), ("fou", 76), ("kar", 64), ("mor", 6), ("pix", 240),
                                                ("zer", 47)]],
    "cub": [("image", "vector", (1024,)), ("text", "vector", (300,))],
    "scene15": [("gist", "vector", (20,)), ("phog", "vector", (59,)), ("lbp", "vector", (40,))],
    "landuse21": [("gist", "vector", (20,)), ("phog", "vector", (59,)), ("lbp", "vector", (40,))],
    "msrc": [("centrist", "vector", (254,)), ("colmoment", "vector", (24,)), ("gist", "vector", (512,)),
             ("lbp", "vector", (256,))],
    "avletters": [("audio", "sequence", (79, 26)), ("video", "sequence", (40, 300))],
}
CLASSES = {"mosi": 2, "avmnist": 10, "avmnist_mce": 10, "mfeat": 10, "cub": 10, "scene15": 15, "landuse21": 21,
           "msrc": 7, "avletters": 26}


@pytest.fixture(scope="module")
def root() -> Path:
    return data_root()


def _same(a, b) -> None:
    assert a.spec == b.spec
    for part_a, part_b in zip(a, b):
        assert torch.equal(part_a.y, part_b.y)
        assert torch.equal(part_a.present, part_b.present)
        for name in part_a.x:
            assert torch.equal(part_a.x[name], part_b.x[name]), name
        for name in part_a.frame_mask:
            assert torch.equal(part_a.frame_mask[name], part_b.frame_mask[name]), name
        if part_a.groups is not None:
            assert np.array_equal(part_a.groups, part_b.groups)


# ------------------------------------------------------------------------------------------- real datasets

def test_names_and_lookup(root):
    assert dataset_names() == list(SIZES)
    assert (root / "cmu_mosi_utterance").is_dir()


@pytest.mark.parametrize("name", list(SIZES))
def test_sizes_shapes_labels(name):
    splits = load_dataset(name)
    spec = splits.spec
    assert tuple(splits.sizes().values()) == SIZES[name]
    assert sum(splits.sizes().values()) == TOTALS[name]
    assert [(m.name, m.kind, m.shape) for m in spec.modalities] == MODALITIES[name]
    assert spec.num_classes == CLASSES[name] and len(spec.class_names) == CLASSES[name]
    assert spec.stands_in_for and spec.split_rule
    for part in splits:
        n = len(part)
        assert part.y.dtype == torch.long and part.y.shape == (n,)
        assert int(part.y.min()) >= 0 and int(part.y.max()) < spec.num_classes
        assert part.present.shape == (n, spec.num_modalities) and bool(part.present.all())
        for m in spec.modalities:
            assert part.x[m.name].shape == (n, *m.shape) and part.x[m.name].dtype == torch.float32
            assert torch.isfinite(part.x[m.name]).all()
            if m.kind == "sequence":
                mask = part.frame_mask[m.name]
                assert mask.shape == (n, m.shape[0]) and bool(mask.any(1).all())
                assert bool((part.x[m.name][~mask] == 0).all())  # padding stays zero
    # every class is in the training split
    assert len(torch.unique(splits.train.y)) == spec.num_classes


@pytest.mark.parametrize("name", list(SIZES))
def test_split_is_deterministic(name):
    first = load_dataset(name)
    cache.clear_memory()  # the second load comes from the disk cache (or is parsed again)
    _same(first, load_dataset(name))


@pytest.mark.parametrize("name", ["avmnist", "avletters"])
def test_fresh_parse_matches_cache(name, tmp_path, monkeypatch):
    cached = load_dataset(name, standardized=False)
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    cache.clear_memory()
    _same(cached, load_dataset(name, standardized=False))
    assert len(list(cache.cache_dir().glob(f"{name}-*.npz"))) == 1
    cache.clear_memory()


def test_standardized_statistics():
    raw, std = load_dataset("mfeat", standardized=False), load_dataset("mfeat")
    values = std.train.x["fac"]
    assert values.mean(0).abs().max() < 1e-3 and (values.std(0) - 1).abs().max() < 1e-2
    assert not torch.equal(raw.train.x["fac"], values)
    seq = load_dataset("avletters")
    mask = seq.train.frame_mask["audio"]
    assert seq.train.x["audio"][mask].mean(0).abs().max() < 1e-3
    img = load_dataset("avmnist")
    assert float(img.train.x["image"].min()) >= 0 and float(img.train.x["image"].max()) <= 1  # images untouched


def test_mosi_videos_disjoint():
    splits = load_dataset("mosi")
    videos = [set(part.groups) for part in splits]
    assert not (videos[0] & videos[1]) and not (videos[0] & videos[2]) and not (videos[1] & videos[2])
    assert len(videos[0]) == 62 and len(videos[1]) + len(videos[2]) == 31  # validation: held-out test videos
    assert abs(len(videos[1]) - 31 / 3) <= 1
    assert splits.spec.modality_names == ("text", "audio", "video")
    assert splits.spec.class_names == ("negative", "positive")


def test_avletters_speakers_disjoint():
    splits = load_dataset("avletters")
    speakers = [set(part.groups) for part in splits]
    assert [len(s) for s in speakers] == [6, 1, 3]
    assert not (speakers[0] & speakers[1]) and not (speakers[0] & speakers[2]) and not (speakers[1] & speakers[2])
    lengths = splits.train.frame_mask["video"].sum(1)
    assert int(lengths.min()) >= 12 and int(lengths.max()) <= 40


def test_avmnist_pairing(root):
    pairs = avmnist._pairs(root / "mnist_t10k", root / "fsdd")
    _, labels = avmnist.read_mnist(root / "mnist_t10k")
    assert len(np.unique(pairs["image_index"])) == 3000  # every image used once
    assert np.array_equal(labels[pairs["image_index"]], pairs["y"])  # image and recording show the same digit
    assert np.array_equal(pairs["is_test"], pairs["index"] < 5)
    full, mce = load_dataset("avmnist"), load_dataset("avmnist_mce")
    assert torch.equal(full.test.x["image"], mce.test.x["image"])  # same pairs, same test set
    for part, per_digit in zip(mce, (105, 15, 30)):
        assert torch.bincount(part.y, minlength=10).tolist() == [per_digit] * 10
    assert torch.bincount(full.test.y, minlength=10).tolist() == [30] * 10


def test_mfcc_of_a_tone():
    t = np.arange(8000) / 8000
    features = avmnist.mfcc(0.5 * np.sin(2 * np.pi * 440 * t))
    assert features.shape == (1 + (8000 - 200) // 80, 20) and np.all(np.isfinite(features))


def test_describe_datasets():
    table = describe_datasets()
    assert list(table["dataset"]) == list(SIZES) and set(table["status"]) == {"ok"}
    row = table.set_index("dataset").loc["mosi"]
    assert row["modalities"] == "text:vector:50, audio:vector:50, video:vector:50" and row["test"] == 492


# ---------------------------------------------------------------------------------------- lookup and cache

def test_env_and_data_dir_lookup(root, tmp_path, monkeypatch):
    shutil.copytree(root / "msrc_v1", tmp_path / "msrc_v1")
    monkeypatch.setenv("MMLIB_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert load_dataset("msrc").sizes() == {"train": 147, "val": 21, "test": 42}
    assert load_dataset("mosi").sizes()["test"] == 492  # not in $MMLIB_DATA: the next place in the order
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as error:  # an explicit data_dir is the only place looked in
        load_dataset("msrc", data_dir=empty)
    message = str(error.value)
    assert "msrc_v1/" in message and "MSRCV1.mat" in message and str(empty) in message
    assert "python -m data_scripts.fetch msrc" in message


def test_cache_key_changes_with_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "source.bin"
    source.write_bytes(b"one")
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(len(calls) + 2)}

    first = cache.cached_arrays("toy", [source], "v1", build)
    first["a"][:] = -1  # callers get copies
    assert np.array_equal(cache.cached_arrays("toy", [source], "v1", build)["a"], np.arange(3))
    cache.clear_memory()
    assert np.array_equal(cache.cached_arrays("toy", [source], "v1", build)["a"], np.arange(3))  # from disk
    assert len(calls) == 1
    source.write_bytes(b"changed")
    assert np.array_equal(cache.cached_arrays("toy", [source], "v1", build)["a"], np.arange(4))  # stale: rebuilt
    cache.cached_arrays("toy", [source], "v2", build)  # a new loader version: rebuilt
    assert len(calls) == 3
    assert len(list(cache.cache_dir().glob("toy-*.npz"))) == 1  # stale entries are deleted
    cache.clear_memory()


# ------------------------------------------------------------------------------------------------- npz format

def _arrays(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {"x_vec": rng.normal(size=(n, 4)).astype(np.float32),
            "x_seq": rng.normal(size=(n, 5, 3)).astype(np.float32),
            "x_img": rng.random(size=(n, 1, 4, 4)).astype(np.float32),
            "y": np.arange(n) % 2}


def test_npz_round_trip_without_split(tmp_path):
    arrays = _arrays()
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    splits = load_dataset(f"npz:{path}", standardized=False)
    assert [(m.name, m.kind, m.shape) for m in splits.spec.modalities] == [
        ("vec", "vector", (4,)), ("seq", "sequence", (5, 3)), ("img", "image", (1, 4, 4))]
    assert splits.spec.num_classes == 2 and splits.sizes() == {"train": 28, "val": 4, "test": 8}
    again = load_dataset(f"npz:{path}", standardized=False)
    _same(splits, again)
    everything = torch.cat([part.x["img"] for part in splits])
    assert torch.allclose(everything.sort(0).values, torch.as_tensor(arrays["x_img"]).sort(0).values)
    load_dataset(f"npz:{path}")  # standardized works too


def test_npz_round_trip_with_split_and_present(tmp_path):
    arrays = _arrays()
    n = len(arrays["y"])
    split = np.array([0] * 20 + [1] * 8 + [2] * 12)
    present = np.ones((n, 3), dtype=bool)
    present[::3, 0] = False
    present[1::3, 2] = False
    mask = np.ones((n, 5), dtype=bool)
    mask[:, 4] = False
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays, split=split, present=present, mask_seq=mask, class_names=np.array(["no", "yes"]))
    splits = load_dataset(f"npz:{path}")
    assert splits.sizes() == {"train": 20, "val": 8, "test": 12}
    assert splits.spec.class_names == ("no", "yes")
    assert torch.equal(splits.train.present, torch.as_tensor(present[:20]))
    assert bool((splits.train.x["vec"][~splits.train.present[:, 0]] == 0).all())  # absent modalities are zeros
    assert bool((splits.test.x["img"][~splits.test.present[:, 2]] == 0).all())
    assert not bool(splits.train.frame_mask["seq"][:, 4].any())
    raw = load_dataset(f"npz:{path}", standardized=False)
    assert torch.equal(raw.val.x["img"], torch.as_tensor(arrays["x_img"][20:28] * present[20:28, 2, None, None, None]))


# ------------------------------------------------------------------------------------------------ bad inputs

def _raises(call, *fragments):
    with pytest.raises(DataError) as error:
        call()
    for fragment in fragments:
        assert str(fragment) in str(error.value), (fragment, str(error.value))
    return str(error.value)


def _npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return f"npz:{path}", path


def test_missing_file(tmp_path):
    _raises(lambda: load_dataset(f"npz:{tmp_path / 'nope.npz'}"), tmp_path / "nope.npz", "not found")
    _raises(lambda: load_dataset("mosi", data_dir=tmp_path), "cmu_mosi_utterance/", "unimodal_mosi_2way.pickle",
            tmp_path)
    (tmp_path / "cmu_mosi_utterance").mkdir()
    _raises(lambda: load_dataset("mosi", data_dir=tmp_path),
            tmp_path / "cmu_mosi_utterance" / "unimodal_mosi_2way.pickle", "not found")
    (tmp_path / "uci_mfeat").mkdir()
    _raises(lambda: load_dataset("mfeat", data_dir=tmp_path), tmp_path / "uci_mfeat" / "mfeat-fac.csv")


def test_truncated_files(root, tmp_path):
    def truncate(rel):
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (root / rel).read_bytes()
        target.write_bytes(data[: len(data) // 2])
        return target

    path = truncate("cmu_mosi_utterance/unimodal_mosi_2way.pickle")
    _raises(lambda: load_dataset("mosi", data_dir=tmp_path), path, "truncated")
    path = truncate("cub_image_text/cub.mat")
    _raises(lambda: load_dataset("cub", data_dir=tmp_path), path)
    path = truncate("scene15_landuse21/Scene-15.mat")
    _raises(lambda: load_dataset("scene15", data_dir=tmp_path), path)
    path = truncate("avletters/Audio/mfcc/Clean/A1_Anya.mfcc")
    _raises(lambda: avletters.read_htk(path), path, "truncated")
    path = truncate("avletters/Lips/A1_Anya-lips.mat")
    _raises(lambda: avletters.read_lips(path), path)
    path = truncate("fsdd/recordings/0_george_0.wav")
    _raises(lambda: avmnist.read_wav(path), path)
    path = truncate("mnist_t10k/t10k-labels-idx1-ubyte.gz")
    _raises(lambda: avmnist._idx(path, 2049, 1), path)
    name, path = _npz(tmp_path, **_arrays())
    path.write_bytes(path.read_bytes()[:300])
    _raises(lambda: load_dataset(name), path, "truncated")
    path.write_text("not an npz at all")
    _raises(lambda: load_dataset(name), path)


def test_missing_key(tmp_path):
    arrays = _arrays()
    del arrays["y"]
    name, path = _npz(tmp_path, **arrays)
    _raises(lambda: load_dataset(name), path, "missing key 'y'")
    name, path = _npz(tmp_path, y=np.zeros(3, dtype=int))
    _raises(lambda: load_dataset(name), path, "x_<modality>")
    folder = tmp_path / "msrc_v1"
    folder.mkdir()
    scipy.io.savemat(folder / "MSRCV1.mat", {"X": np.zeros((1, 4), dtype=object)})
    _raises(lambda: load_dataset("msrc", data_dir=tmp_path), folder / "MSRCV1.mat", "missing key 'gt'")


def test_wrong_shape(tmp_path):
    arrays = _arrays()
    arrays["x_vec"] = arrays["x_vec"][:-1]
    name, path = _npz(tmp_path, **arrays)
    _raises(lambda: load_dataset(name), path, "'vec' has 39 samples")
    arrays = _arrays()
    arrays["x_vec"] = np.zeros((40, 1, 1, 1, 1))
    name, path = _npz(tmp_path, **arrays)
    _raises(lambda: load_dataset(name), path, "'vec'")
    folder = tmp_path / "cub_image_text"
    folder.mkdir()
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = np.zeros((1000, 600)), np.zeros((300, 600))
    scipy.io.savemat(folder / "cub.mat", {"X": cells, "gt": np.ones((600, 1))})
    _raises(lambda: load_dataset("cub", data_dir=tmp_path), folder / "cub.mat", "'image'", "(1024, 600)")


def test_nan(tmp_path):
    arrays = _arrays()
    arrays["x_seq"][7, 2, 1] = np.nan
    name, path = _npz(tmp_path, **arrays)
    _raises(lambda: load_dataset(name), path, "NaN", "sample 7")


def test_label_out_of_range(tmp_path):
    arrays = _arrays()
    arrays["y"][3] = -1
    name, path = _npz(tmp_path, **arrays)
    _raises(lambda: load_dataset(name), path, "label -1 out of range")
    arrays = _arrays()
    arrays["y"][3] = 2
    name, path = _npz(tmp_path, **arrays, class_names=np.array(["a", "b"]))
    _raises(lambda: load_dataset(name), path, "label 2 out of range")


def test_sample_without_modality(tmp_path):
    arrays = _arrays()
    present = np.ones((40, 3), dtype=bool)
    present[5] = False
    name, path = _npz(tmp_path, **arrays, present=present)
    _raises(lambda: load_dataset(name), path, "sample 5 has no modality present")


def test_unknown_dataset():
    message = _raises(lambda: load_dataset("mosei"), "unknown dataset 'mosei'")
    assert all(name in message for name in SIZES) and "npz:PATH" in message


def test_mfeat_label_disagreement(root, tmp_path):
    shutil.copytree(root / "uci_mfeat", tmp_path / "uci_mfeat")
    path = tmp_path / "uci_mfeat" / "mfeat-kar.csv"
    path.chmod(0o644)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",5"
    path.write_text("\n".join(lines) + "\n")
    _raises(lambda: load_dataset("mfeat", data_dir=tmp_path), path, "do not agree")


def test_htk_and_wav_readers(tmp_path):
    path = tmp_path / "ok.mfcc"
    frames = np.arange(6, dtype=">f4").reshape(3, 2)
    path.write_bytes(struct.pack(">iihh", 3, 200000, 8, 6) + frames.tobytes())
    assert np.array_equal(avletters.read_htk(path), frames.astype(np.float32))
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2), handle.setsampwidth(2), handle.setframerate(8000)
        handle.writeframes(np.zeros(400, dtype="<i2").tobytes())
    _raises(lambda: avmnist.read_wav(path), path, "mono")


# ------------------------------------------------------------------------------------------------ fetch script

def test_fetch_failure_path_and_check(root, tmp_path, monkeypatch, capsys):
    from data_scripts import fetch

    def offline(url):
        raise fetch.FetchError(f"{url}: network unreachable")

    monkeypatch.setattr(fetch, "_download", offline)
    assert fetch.main(["msrc", "--dest", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "msrc_v1") in err and "MSRCV1.mat" in err and "h10666/GRNet" in err
    assert err.strip().splitlines()[-1].startswith("error: could not fetch msrc")

    shutil.copytree(root / "msrc_v1", tmp_path / "msrc_v1")
    assert fetch.main(["--check", str(tmp_path)]) == 0
    assert fetch.main(["msrc", "--dest", str(tmp_path)]) == 0  # already there: nothing downloaded
    target = tmp_path / "msrc_v1" / "MSRCV1.mat"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    assert fetch.main(["--check", str(tmp_path)]) == 1
    assert fetch.main(["nosuchset"]) == 2


def test_checksums_and_metadata_conversion(root):
    from data_scripts import fetch

    files = fetch.checksums()
    assert len([f for f in files if f.startswith("fsdd/recordings/")]) == 3000
    assert fetch.sha256(root / "msrc_v1" / "MSRCV1.mat") == files["msrc_v1/MSRCV1.mat"]
    speakers = json.loads((root / "fsdd" / "speakers.json").read_text())
    metadata = "\"\"\"doc\"\"\"\n\nmetadata = " + repr(speakers) + "\n"
    assert fetch.metadata_to_json(metadata.encode()) == (root / "fsdd" / "speakers.json").read_bytes()
