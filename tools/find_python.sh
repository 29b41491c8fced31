#!/usr/bin/env bash
# Print the path of a Python 3.11 for `make setup`; where there is none, say in one line what to install, exit 1.
# In order: python3.11 on the PATH, a Python 3.11 that uv already knows (`uv python find`), one that uv
# installs (`uv python install`, which downloads it where the network allows). Needs no Python to run.
set -uo pipefail
want=3.11

# The interpreter itself (not a pyenv shim), if it runs and is 3.11.
real() { "$1" -c "import sys; assert sys.version_info[:2] == (${want/./, }); print(sys.executable)" 2>/dev/null; }

if python=$(command -v "python$want") && real "$python"; then exit 0; fi
if command -v uv >/dev/null; then
  if python=$(uv python find "$want" 2>/dev/null) && real "$python"; then exit 0; fi
  echo "No Python $want found: asking uv to install one (uv python install $want)..." >&2
  if uv python install "$want" >&2 && python=$(uv python find "$want" 2>/dev/null) && real "$python"; then exit 0; fi
fi
echo "fedkit needs Python $want (TFF 0.87 supports 3.9-3.11 on Linux x86_64): install python$want" \
  "(apt, pyenv, or \`uv python install $want\`) and run \`make setup\` again." >&2
exit 1
