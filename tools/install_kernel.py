"""Register this virtual environment as the Jupyter kernel NAME, with TF's C++ logging silenced."""

import json
import sys
from pathlib import Path

from ipykernel.kernelspec import install

from fedkit.common.env import ENV_DEFAULTS, PKG_RESOURCES_WARNING

name = sys.argv[1] if len(sys.argv) > 1 else "fedkit"
path = Path(install(kernel_name=name, display_name=f"Python 3.11 ({name})", prefix=sys.prefix))
spec = json.loads((path / "kernel.json").read_text())
# fedkit's environment defaults before any import: TensorFlow's C++ logging writes to stderr at import, which nbval
# would see as an output. googleapis-common-protos 1.61 (pinned by TFF) imports pkg_resources, whose setuptools
# (kept below 81 for TensorBoard) warns about it on stderr when a notebook imports TFF before fedkit.
spec["env"] = {**ENV_DEFAULTS, "PYTHONWARNINGS": f"ignore:{PKG_RESOURCES_WARNING}:UserWarning"}
(path / "kernel.json").write_text(json.dumps(spec, indent=1))
print(f"Installed Jupyter kernel {name!r} at {path}")
