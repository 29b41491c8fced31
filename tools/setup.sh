#!/usr/bin/env bash
# `make setup`: VENV (default .venv) from the lock on Python 3.11, the fedkit package, and the Jupyter kernel KERNEL.
# The VENV/.installed stamp is removed first and written last, so a failed run is redone by the next one;
# a venv this run created is removed if the run fails.
set -euo pipefail
venv=${1:-.venv}
kernel=${2:-fedkit}
python=$(tools/find_python.sh)  # on failure it has said what to install

rm -f "$venv/.installed"
created=0
[ -d "$venv" ] || created=1
on_exit() {
  local status=$?
  if [ "$status" -ne 0 ] && [ "$created" = 1 ]; then
    rm -rf "$venv"
    echo "make setup failed: removed the partial $venv; fix the error above and run \`make setup\` again." >&2
  fi
}
trap on_exit EXIT

if ! "$python" -m venv "$venv"; then
  echo "\`$python -m venv\` failed: on Debian or Ubuntu install python3.11-venv (apt), then run \`make setup\` again." >&2
  exit 1
fi
"$venv/bin/python" -m pip install --quiet "$(grep -o '^uv==[^ ]*' requirements.txt)"
# Bytecode now, not at every import: uv skips it by default, and with PYTHONDONTWRITEBYTECODE set (as in many
# containers) every `import tensorflow` would recompile TensorFlow's sources (about 2x slower to start).
"$venv/bin/uv" pip install --python "$venv/bin/python" --no-deps --compile-bytecode -r requirements.txt
"$venv/bin/uv" pip install --python "$venv/bin/python" --no-deps --no-build-isolation -e .
"$venv/bin/python" tools/install_kernel.py "$kernel"
touch "$venv/.installed"
