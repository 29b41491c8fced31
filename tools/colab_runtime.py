"""`make colab`: a Jupyter server from the kit's .venv that Google Colab can connect to as a local runtime.

Started as Colab's local-runtime documentation says: the Colab front end is the allowed origin, a fixed
port with no retries (the URL pasted into Colab must stay right), and a token. Prints the URL to paste
into Colab (Connect > Connect to a local runtime). Stop it with Ctrl-C: it shuts its kernels down.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from fedkit.common.env import apply_defaults

ROOT = Path(__file__).resolve().parents[1]
COLAB_ORIGIN = "https://colab.research.google.com"


def server_argv(port: int, token: str, root: Path = ROOT) -> list[str]:
    """The command that runs the Jupyter server for Colab on 127.0.0.1:`port` with `token`."""
    return [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--ServerApp.allow_origin={COLAB_ORIGIN}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}",
        *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),  # as in a container
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--token", default=None, help="default: a new random token")
    args = parser.parse_args(argv)
    token = args.token or secrets.token_hex(24)
    # Kernels inherit fedkit's environment defaults: TensorFlow's C++ logging would otherwise print into the outputs.
    apply_defaults()
    print(
        f"Colab local runtime: in Colab choose Connect > Connect to a local runtime and paste\n"
        f"    http://localhost:{args.port}/?token={token}\n"
        f"(the kernel is this .venv's Python 3.11 with fedkit; Ctrl-C here stops the server and its kernels)",
        flush=True,
    )
    argv_ = server_argv(args.port, token)
    os.execv(argv_[0], argv_)


if __name__ == "__main__":
    main()
