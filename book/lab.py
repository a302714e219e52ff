"""JupyterLab on the book's notebooks, with a kernel that runs this interpreter (the venv's): `make lab`.

    python book/lab.py [JupyterLab options, e.g. --port=8890 --no-browser]

JupyterLab starts each kernel in its notebook's folder; any other folder would do as well (`mmbook.<chapter>`
and `mmlib` find the grids, claims, paper results and data).
"""
import os
import sys

from build_book import ROOT, write_kernelspec

#: Jupyter looks here first (JUPYTER_PATH): a `python3` kernel for this interpreter, whatever else is registered
JUPYTER_DIR = ROOT / ".cache" / "jupyter"


def main(options: list[str]) -> None:
    write_kernelspec(JUPYTER_DIR)
    search = [str(JUPYTER_DIR), *filter(None, [os.environ.get("JUPYTER_PATH")])]  # ours first, then the caller's
    env = dict(os.environ, JUPYTER_PATH=os.pathsep.join(search))
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT / 'notebooks'}", *options]
    os.execve(sys.executable, command, env)  # the server takes this process's place: Ctrl-C and signals reach it


if __name__ == "__main__":
    main(sys.argv[1:])
