"""Build the reproducibility book.

    python book/build_book.py --profile quick|smoke|paper --out _build [--jobs N] [--werror]

1. copy the book sources (_config.yml, _toc.yml, book/, notebooks/) to OUT/src;
2. execute there every notebook listed in _toc.yml with papermill, each kernel started in an empty
   folder (OUT/cwd: a notebook that leaned on its working directory would fail here), injecting
   `profile` (and `data_dir` when MMLIB_DATA is set); the injected cell stays visible;
   the claims ledger last, from the claims the others recorded in this build;
3. run `jupyter-book build` on OUT/src with execution off (`-W` with --werror);
4. copy MathJax from the npm package (`make mathjax`) into OUT/html/_static/mathjax, which
   `mathjax_path` in _config.yml points to, and check that no page loads MathJax from a CDN.

The HTML ends in OUT/html, the executed notebooks in OUT/src.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK_SOURCES = ["_config.yml", "_toc.yml", "book", "notebooks"]
MATHJAX_NPM = ROOT / ".cache" / "npm" / "node_modules" / "mathjax" / "es5"
KERNEL_NAME = "python3"
MATHJAX_CDNS = ("cdn.jsdelivr.net/npm/mathjax", "cdnjs.cloudflare.com/ajax/libs/mathjax")
# Notebooks that read what the others recorded (the claims ledger): executed after all the others.
LAST = ("notebooks/claims_ledger.ipynb",)
# Seconds each notebook took at each profile from an empty cache (a build writes OUT/notebook_seconds.json; copy
# it here when the chapters change): the longest start first, so that no long notebook starts last while the
# other cores sit idle. A notebook not listed counts as the longest.
SECONDS = ROOT / "book" / "notebook_seconds.json"


def toc_files(toc_path):
    """Every file the table of contents lists, root first, as paths relative to the book root."""
    toc = yaml.safe_load(Path(toc_path).read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk([toc])
    return files


def toc_notebooks(toc_path):
    """The notebooks the table of contents lists (those the build executes), relative paths."""
    book_root = Path(toc_path).parent
    notebooks = []
    for file in toc_files(toc_path):
        path = file if file.endswith(".ipynb") else file + ".ipynb"
        if file.endswith(".ipynb") or (book_root / path).exists():
            notebooks.append(path)
    return notebooks


def copy_sources(src):
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build")
    for name in BOOK_SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, src / name)


def write_kernelspec(jupyter_dir):
    """A `python3` kernel that runs this interpreter (the venv's), whatever else is registered.

    JUPYTER_PATH comes first in Jupyter's search path, so this spec wins over a user's own
    `python3` kernel that might point at another Python.
    """
    kernel_dir = jupyter_dir / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (mmlib)",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec, indent=1))


def kernel_threads(jobs=None):
    """The environment each notebook's kernel gets when ``jobs`` notebooks run at once (default: one per core):
    the cores shared among them (``OMP_NUM_THREADS`` = cores // jobs), and as many runs trained side by side
    (``MMLIB_WORKERS``, see mmlib.experiment.run_each; 1: the kernel trains its runs itself, with no worker
    processes to start). More threads than cores would slow torch down several times over. nbval's kernels in a
    test session get the same (../conftest.py), so that values kept under the thread count (the cost pages'
    timings) are read back rather than measured again."""
    from mmlib.experiment import usable_cores

    share = str(max(1, usable_cores() // (jobs or usable_cores())))
    return {"OMP_NUM_THREADS": share, "MMLIB_WORKERS": os.environ.get("MMLIB_WORKERS", share)}


def execute_notebook(notebook, profile, env, cwd):
    """Run one notebook in place with papermill, its kernel started in ``cwd``; returns (seconds, error message or
    None)."""
    command = [
        sys.executable, "-m", "papermill", str(notebook), str(notebook),
        "--kernel", KERNEL_NAME, "--cwd", str(cwd), "--no-progress-bar",
        "-p", "profile", profile,
    ]
    if os.environ.get("MMLIB_DATA"):
        command += ["-r", "data_dir", os.environ["MMLIB_DATA"]]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        message = result.stderr or result.stdout
        # Papermill's own stack is noise; the notebook's traceback follows this marker.
        marker = message.find("PapermillExecutionError")
        return seconds, message[marker:] if marker >= 0 else message[-4000:]
    return seconds, None


def execute_notebooks(src, notebooks, profile, jobs):
    env = dict(os.environ, JUPYTER_PATH=str(src.parent / "jupyter"), **kernel_threads(jobs))
    env.setdefault("MMLIB_QUIET", "1")  # training progress bars would end up in the pages
    write_kernelspec(src.parent / "jupyter")
    cwd = src.parent / "cwd"
    cwd.mkdir(exist_ok=True)
    failures, seconds_taken = [], {}
    measured = json.loads(SECONDS.read_text()).get(profile, {}) if SECONDS.exists() else {}
    first = sorted((nb for nb in notebooks if nb not in LAST), key=lambda nb: -measured.get(nb, float("inf")))
    for batch in (first, [nb for nb in notebooks if nb in LAST]):
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(execute_notebook, src / nb, profile, env, cwd): nb for nb in batch}
            for future in concurrent.futures.as_completed(futures):
                notebook = futures[future]
                seconds, error = future.result()
                seconds_taken[notebook] = round(seconds, 1)
                print(f"  {'ok    ' if error is None else 'FAILED'} {notebook:<50} {seconds:7.1f} s", flush=True)
                if error is not None:
                    failures.append((notebook, error))
    (src.parent / "notebook_seconds.json").write_text(json.dumps({profile: seconds_taken}, indent=1) + "\n")
    for notebook, error in failures:
        print(f"\n=== {notebook} raised an error at profile {profile!r} "
              f"(executed copy: {src / notebook}) ===\n{error}", file=sys.stderr)
    if failures:
        sys.exit(f"Book build failed: {len(failures)} notebook(s) raised: "
                 + ", ".join(notebook for notebook, _ in failures))


def install_mathjax(html):
    if not (MATHJAX_NPM / "tex-chtml.js").exists():
        sys.exit(f"MathJax not found at {MATHJAX_NPM}: run `make mathjax` (npm install mathjax@3).")
    target = html / "_static" / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(MATHJAX_NPM, target)
    remote = [str(page.relative_to(html)) for page in html.rglob("*.html")
              if any(cdn in page.read_text(errors="replace") for cdn in MATHJAX_CDNS)]
    if remote:
        sys.exit(f"These pages load MathJax from a CDN: {', '.join(remote)}")


def main():
    from mmlib.experiment import usable_cores

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["smoke", "quick", "paper"], default="quick")
    parser.add_argument("--out", type=Path, default=ROOT / "_build")
    parser.add_argument("--jobs", type=int, default=usable_cores(),
                        help="notebooks executed in parallel (default: one per core)")
    parser.add_argument("--werror", action="store_true", help="turn Sphinx warnings into errors")
    args = parser.parse_args()

    out = args.out.resolve()
    src, html = out / "src", out / "html"
    total_start = time.perf_counter()

    copy_sources(src)
    notebooks = toc_notebooks(src / "_toc.yml")
    missing = [nb for nb in notebooks if not (src / nb).exists()]
    if missing:
        sys.exit(f"_toc.yml lists notebooks that do not exist: {', '.join(missing)}")

    # the ledger gathers what this build's notebooks record: none left from an earlier build (a notebook that fails
    # now must not leave its old rows behind)
    from mmlib.claims import ledger_dir
    shutil.rmtree(ledger_dir(args.profile), ignore_errors=True)

    print(f"Executing {len(notebooks)} notebook(s) at profile {args.profile!r} with {args.jobs} job(s)")
    execute_notebooks(src, notebooks, args.profile, args.jobs)

    print("Building the HTML with jupyter-book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(src), "--builder", "html", "--quiet"]
    if args.werror:
        command += ["-W", "--keep-going"]
    start = time.perf_counter()
    if subprocess.run(command).returncode != 0:
        sys.exit("jupyter-book build failed (see the messages above).")
    print(f"  ok     {'jupyter-book build':<50} {time.perf_counter() - start:7.1f} s")

    if html.exists():
        shutil.rmtree(html)
    shutil.move(src / "_build" / "html", html)
    install_mathjax(html)

    print(f"Book built in {time.perf_counter() - total_start:.1f} s: {html / 'index.html'}")


if __name__ == "__main__":
    main()
