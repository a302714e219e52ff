"""`make lab` starts JupyterLab on the notebooks, with the venv's kernel; the server answers and stops."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts a server: not a unit test

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def stop(server: subprocess.Popen) -> None:
    """Stop `make lab` and the server it started (one process group), if still running."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_make_lab_serves_the_notebooks_with_the_venv_kernel(tmp_path):
    port, token = free_port(), "mmlib-test-token"
    # port_retries=0: on the chosen port or not at all (otherwise a taken port sends it silently to another)
    flags = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    if os.geteuid() == 0:  # containers and CI machines: JupyterLab refuses root unless told
        flags += " --allow-root"
    # a home of its own: the server writes its runtime files there, and no user kernel or setting leaks in
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    server = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_FLAGS={flags}"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get_json(f"{base}/api/status?token={token}")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    stop(server)  # first: reading a running server's output would wait forever
                    pytest.fail(f"JupyterLab did not answer on port {port}:\n{server.stdout.read()[-3000:]}")
                time.sleep(0.5)
        with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=5) as response:
            assert response.status == 200 and "JupyterLab" in response.read().decode()
        names = {item["name"] for item in get_json(f"{base}/api/contents?token={token}")["content"]}
        assert {"00_data.ipynb", "dream", "claims_ledger.ipynb"} <= names, f"the server's root is not notebooks/: {names}"
        specs = get_json(f"{base}/api/kernelspecs?token={token}")
        python3 = specs["kernelspecs"]["python3"]["spec"]
        assert python3["display_name"] == "Python 3 (mmlib)", "the notebooks' kernel is not the venv's"
        assert Path(python3["argv"][0]).parent.parent.resolve() == (ROOT / ".venv").resolve()
    finally:
        stop(server)
    with pytest.raises(OSError):
        get_json(f"{base}/api/status?token={token}")
