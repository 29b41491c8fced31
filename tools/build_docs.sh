#!/usr/bin/env bash
# The book's toolchain, for `make docs` and `make docs-test`; never touches the kit's own .venv.
#   tools/build_docs.sh venv [DIR]   create DIR (.venv-docs) from requirements-docs.txt; the stamp DIR/.installed last
#   tools/build_docs.sh chromium     make sure Debian's chromium is at /usr/bin/chromium (apt-get; needs root)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
venv)
  venv=${2:-.venv-docs}
  python=$(tools/find_python.sh)
  rm -rf "$venv"
  trap 'rm -rf "$venv"; echo "tools/build_docs.sh: could not set up $venv (see above); run make docs again." >&2' ERR
  uv=$(command -v uv || true)
  [ -z "$uv" ] && [ -x .venv/bin/uv ] && uv=.venv/bin/uv
  if [ -n "$uv" ]; then
    "$uv" venv -q --python "$python" "$venv"
    "$uv" pip install -q --python "$venv/bin/python" -r requirements-docs.txt
  else
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --no-deps -r requirements-docs.txt
  fi
  touch "$venv/.installed"
  ;;
chromium)
  [ -x /usr/bin/chromium ] && exit 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ||
      echo "tools/build_docs.sh: apt-get could not install chromium; the browser test will skip." >&2
  else
    echo "tools/build_docs.sh: no /usr/bin/chromium and no root apt-get to install it; the browser test will skip." >&2
  fi
  ;;
*)
  echo "usage: tools/build_docs.sh venv [DIR] | chromium" >&2
  exit 2
  ;;
esac
