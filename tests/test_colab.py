"""Colab: the generated setup cell, the notebooks' Colab cells, requirements-colab.txt, and `make colab`."""

import ast
import asyncio
import importlib.metadata
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_python

from fedkit.common.env import ENV_DEFAULTS
from fedkit.runtime import colab

sys.path.insert(0, str(ROOT / "tools"))
import colab_cells  # noqa: E402
import colab_runtime  # noqa: E402
import write_colab_requirements  # noqa: E402

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s#;]+)", re.M)


def pins(path: Path) -> dict[str, str]:
    return {colab.normalize(name): version for name, version in PIN.findall(path.read_text())}


# --- requirements-colab.txt -------------------------------------------------------------------------


def test_colab_requirements_are_the_locks_pins_without_colabs_jupyter_side():
    ours, lock = pins(ROOT / "requirements-colab.txt"), pins(ROOT / "requirements.txt")
    assert ours and all(lock.get(name) == version for name, version in ours.items())
    assert not ours.keys() & colab.JUPYTER_SIDE
    for name in [
        "tensorflow-federated",
        "tensorflow",
        "tensorflow-model-optimization",
        "numpy",
        "jax",
        "jaxlib",
        "keras",
        "ml-dtypes",
        "protobuf",
        "tensorboard",
        "tensorflow-probability",
    ]:
        assert ours[name] == lock[name], name
    # Up to date with `make lock`: regenerating gives the same pins.
    assert write_colab_requirements.colab_pins((ROOT / "requirements.txt").read_text()) == [
        f"{n}=={v}" for n, v in PIN.findall((ROOT / "requirements-colab.txt").read_text())
    ]


def test_colab_requirements_cover_every_package_fedkit_imports():
    imported = set()
    for path in (ROOT / "fedkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    stdlib = set(sys.stdlib_module_names) | {"fedkit", "__future__"}
    dists = importlib.metadata.packages_distributions()
    needed = {colab.normalize(dists[m][0]) for m in imported - stdlib}
    assert needed, imported
    assert needed <= pins(ROOT / "requirements-colab.txt").keys()


def test_colab_sim_fixture_names_its_source_and_differs_where_the_pins_must_win():
    fixture = ROOT / "tests" / "fixtures" / "colab-2025.07-pins.txt"
    header = "".join(line for line in fixture.read_text().splitlines(True) if line.startswith("#"))
    assert "googlecolab/backend-info" in header and "ef1cba030a9f7a39bf42912a42f6462d6d4908e8" in header
    sim, ours = pins(fixture), pins(ROOT / "requirements-colab.txt")
    # Colab's kernel side is in the simulation and not replaced by the setup cell.
    assert {"ipykernel", "ipython", "jupyter-client", "tornado", "traitlets", "pyzmq"} <= sim.keys() - ours.keys()
    # What TF 2.14 / TFF need at other versions than Colab's is there at Colab's, so the pins are seen to win.
    for name in ["tensorflow", "keras", "numpy", "ml-dtypes", "protobuf", "jax", "jaxlib", "tensorboard"]:
        assert sim[name] != ours[name], name
    assert "tf-keras" in sim


# --- the setup cell -----------------------------------------------------------------------------------


def test_colab_module_does_not_import_tensorflow():
    done = run_python(
        "import sys, fedkit.runtime.colab; print(sorted(m for m in sys.modules if m.startswith('tensorflow')))"
    )
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_setup_cell_is_silent_outside_colab():
    done = run_python(colab.setup_cell_source())
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.fixture
def in_colab(monkeypatch):
    """Pretend to be a Colab runtime: `google.colab` imported, and subprocess.run recorded instead of run."""
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    return calls


def run_cell() -> None:
    exec(compile(colab.setup_cell_source(), "<setup cell>", "exec"), {})


def test_setup_cell_on_another_python_says_what_to_do(in_colab, monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 13, 5, "final", 0))
    monkeypatch.setattr(sys, "version", "3.13.5 (main)")
    with pytest.raises(SystemExit) as stop:
        run_cell()
    message = str(stop.value)
    assert "\n" not in message and "Python 3.13.5" in message
    assert "Runtime > Change runtime type > Runtime version 2025.07" in message and "make colab" in message
    assert in_colab == []


def test_setup_cell_installs_the_kit_then_asks_for_one_restart(in_colab, monkeypatch):
    def version(name):
        if name == "fedkit":
            raise importlib.metadata.PackageNotFoundError(name)
        return {"tensorflow-federated": "0.22.0"}[name]

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(SystemExit, match=re.escape("Runtime > Restart session")):
        run_cell()
    clone, science, kit = in_colab
    assert clone[:5] == ["git", "clone", "--quiet", "--depth", "1"] and colab.REPO_URL in clone
    checkout = clone[-1]
    assert science == [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "-r",
        f"{checkout}/requirements-colab.txt",
    ]
    assert kit == [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", checkout]


def test_setup_cell_skips_the_install_when_the_kit_is_there(in_colab, monkeypatch, capsys):
    versions = {"fedkit": colab.__version__, "tensorflow-federated": colab.TFF_VERSION}
    monkeypatch.setattr(importlib.metadata, "version", versions.__getitem__)
    run_cell()
    assert in_colab == [] and capsys.readouterr().out == f"fedkit {colab.__version__} with TFF 0.87.0 is ready.\n"


def test_setup_cell_sets_fedkits_environment_defaults_in_colab(in_colab, monkeypatch, capsys):
    versions = {"fedkit": colab.__version__, "tensorflow-federated": colab.TFF_VERSION}
    monkeypatch.setattr(importlib.metadata, "version", versions.__getitem__)
    environment = {"GRPC_VERBOSITY": "DEBUG"}  # a value the user set wins
    monkeypatch.setattr(os, "environ", environment)
    run_cell()
    assert environment == {**ENV_DEFAULTS, "GRPC_VERBOSITY": "DEBUG"} and len(ENV_DEFAULTS) >= 3


# --- the notebooks' Colab cells -----------------------------------------------------------------------


def test_badge_opens_the_notebook_from_the_repository():
    badge = colab.badge_markdown("notebooks/01_hello_world.ipynb")
    slug = colab.REPO_URL.removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{slug}/blob/{colab.BRANCH}/notebooks/01_hello_world.ipynb"
    assert badge.endswith(f"]({url})") and "colab-badge.svg" in badge


@pytest.fixture
def notebook_copies(tmp_path, monkeypatch):
    """Copies of two notebooks (one a solution), without their Colab cells, under a tmp root standing in for the
    checkout."""
    notebooks = ROOT / "notebooks"
    sources = sorted(notebooks.glob("0*.ipynb"))[:1] + sorted(notebooks.glob("solutions/*.ipynb"))[:1]
    monkeypatch.setattr(colab_cells, "ROOT", tmp_path)
    copies = []
    for src in sources:
        dest = tmp_path / src.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        notebook = nbformat.read(src, as_version=4)
        notebook.cells = [c for c in notebook.cells if c.get("id") not in {"colab-badge", "colab-setup"}]
        nbformat.write(notebook, dest)
        copies.append(dest)
    return copies


def test_colab_cells_go_right_after_the_title_once(notebook_copies):
    path = notebook_copies[0]
    before = nbformat.read(path, as_version=4)
    assert colab_cells.main(["--check", str(path)]) == 1
    assert colab_cells.main([str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    nbformat.validate(after)
    assert after.cells[0] == before.cells[0] and after.cells[3:] == [
        c for c in before.cells[1:] if c.get("id") not in {"colab-badge", "colab-setup"}
    ]
    badge, setup = after.cells[1:3]
    assert badge.source == colab.badge_markdown(f"notebooks/{path.name}")
    assert setup.source == colab.setup_cell_source() and setup.outputs == [] and setup.execution_count is None
    text = path.read_text()
    assert colab_cells.main([str(path)]) == 0 and path.read_text() == text  # idempotent
    assert colab_cells.main(["--check", str(path)]) == 0
    # Running the notebook in place adds an execution count and timings: still up to date.
    setup.execution_count, setup.metadata["execution"] = 3, {"iopub.status.idle": "2026-11-22T04:38:37Z"}
    nbformat.write(after, path)
    assert colab_cells.main(["--check", str(path)]) == 0
    assert setup.metadata["cellView"] == "form" and setup.source.startswith("#@title ")


def test_colab_cells_check_fails_when_the_generator_changes(notebook_copies, monkeypatch):
    for path in notebook_copies:
        colab_cells.update(path)
    assert colab_cells.main(["--check", *map(str, notebook_copies)]) == 0
    monkeypatch.setattr(colab, "REPO_URL", "https://github.com/someone-else/fedkit")
    assert colab_cells.main(["--check", *map(str, notebook_copies)]) == 1
    assert all(colab_cells.update(path) for path in notebook_copies)
    assert colab_cells.main(["--check", *map(str, notebook_copies)]) == 0


def test_every_notebook_has_the_generated_colab_cells():
    notebooks = [p for p in sorted((ROOT / "notebooks").rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
    stale = [str(p.relative_to(ROOT)) for p in notebooks if colab_cells.differs(p)]
    assert notebooks and not stale, f"run `python tools/colab_cells.py`: {stale}"


# --- make colab: the local runtime ----------------------------------------------------------------------

HELLO = """\
import os
from fedkit import runtime
worker = runtime.set_local_context()
import tensorflow_federated as tff

@tff.federated_computation
def hello_world():
    return "Hello, World!"

print(hello_world(), os.getpid(), worker.process.pid)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marked_pids(marker: str) -> set[int]:
    """Live processes whose environment carries `marker` (inherited from the server this test started)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.add(int(proc.name))
        except OSError:
            continue
    return found


def api(base: str, path: str, token: str | None, method: str = "GET", body: dict | None = None) -> dict:
    """A JSON call to the Jupyter server's REST API."""
    request = urllib.request.Request(f"{base}{path}", method=method, data=json.dumps(body).encode() if body else None)
    if token:
        request.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else {}


async def execute(ws_url: str, token: str, code: str, origin: str, timeout: float = 600) -> str:
    """Run `code` in the kernel over its websocket (Jupyter messaging protocol 5.3); the cell's text output."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {token}", "Origin": origin}
    ws = await websocket_connect(HTTPRequest(ws_url, headers=headers))
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": "execute_request",
        "username": "test",
        "session": uuid.uuid4().hex,
        "version": "5.3",
        "date": "",
    }
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    ws.write_message(
        json.dumps(
            {
                "header": header,
                "parent_header": {},
                "metadata": {},
                "content": content,
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    out, status, idle = [], None, False
    while not (status and idle):
        raw = await asyncio.wait_for(ws.read_message(), timeout)
        assert raw is not None, "the kernel's websocket closed"
        msg = json.loads(raw)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            out.append("\n".join(msg["content"]["traceback"]))
        elif kind == "execute_reply":
            status = msg["content"]["status"]
        # The reply (shell) and the idle status (iopub) come on different channels, in either order.
        idle = idle or (kind == "status" and msg["content"]["execution_state"] == "idle")
    ws.close()
    return "".join(out)


def test_make_colab_serves_a_kernel_that_runs_fedkit_and_leaves_nothing_behind(tmp_path):
    port, token, marker = free_port(), uuid.uuid4().hex, f"FEDKIT_COLAB_TEST={uuid.uuid4().hex}"
    name, value = marker.split("=")
    env = dict(os.environ, **{name: value}, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "colab_runtime.py"), "--port", str(port), "--token", token],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            text=True,
        )
    try:
        banner = server.stdout.readline() + server.stdout.readline()
        assert f"http://localhost:{port}/?token={token}" in banner
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                api(base, "/api/status", token)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(1)
        with pytest.raises(urllib.error.HTTPError, match="403"):
            api(base, "/api/kernels", None)  # no token, no kernels
        kernel = api(base, "/api/kernels", token, "POST", {})
        ws_url = f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels"
        out = asyncio.run(execute(ws_url, token, HELLO, origin=colab_runtime.COLAB_ORIGIN))
        assert out.startswith("b'Hello, World!' "), out
        kernel_pid, worker_pid = map(int, out.split()[-2:])
        assert {server.pid, kernel_pid, worker_pid} <= marked_pids(marker)
        api(base, "/api/shutdown", token, "POST")
        server.wait(timeout=120)
        deadline = time.monotonic() + 30
        while marked_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not marked_pids(marker), "processes left running by the server"
    finally:
        for pid in marked_pids(marker):  # only what this test started carries its marker
            os.kill(pid, signal.SIGKILL)
        server.stdout.close()
