# fedkit: `make run` sets up and executes the notebooks into outputs/; `make test` runs the suite.
# `make colab` serves the kit's kernel to Colab (local runtime); `make colab-sim` checks notebooks in a Colab look-alike.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := fedkit
DOCS_VENV := .venv-docs
# Test files (a notebook is one file) run on JOBS processes at once; each notebook needs about 2 GB.
JOBS ?= 2
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
export TF_CPP_MIN_LOG_LEVEL := 3
export GRPC_VERBOSITY := ERROR

.PHONY: setup run test lint lock sweep bench clean colab colab-sim docs docs-test

setup: $(VENV)/.installed

# tools/setup.sh finds a Python 3.11 (tools/find_python.sh) and writes the stamp last.
$(VENV)/.installed: requirements.txt pyproject.toml
	tools/setup.sh $(VENV) $(KERNEL)

run: setup
	mkdir -p outputs/notebooks
	for nb in $(NOTEBOOKS); do \
	  echo "== executing $$nb"; \
	  $(VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=$(KERNEL) \
	    --ExecutePreprocessor.timeout=1800 --output-dir outputs/notebooks "$$nb" || exit 1; \
	done
	@echo "Executed notebooks: outputs/notebooks/; figures: outputs/figures/; TensorBoard logs: outputs/tensorboard/"

test: setup
	$(PY) -m pytest tests notebooks -m "not slow" --nbval --nbval-kernel-name=$(KERNEL) \
	  --nbval-sanitize-with=tests/nbval_sanitize.cfg --nbval-cell-timeout=1800 -v \
	  --numprocesses=$(JOBS) --dist=loadfile

sweep: setup
	$(PY) -m fedkit reproduce sweep

bench: setup
	$(PY) benchmarks/run.py

# What CI checks in the code: formatting, ruff's rules, and mypy over fedkit/ (its settings in pyproject.toml).
lint: setup
	$(VENV)/bin/ruff format --check fedkit tests tools benchmarks
	$(VENV)/bin/ruff check fedkit tests tools benchmarks
	$(VENV)/bin/mypy

lock:
	uv pip compile requirements.in --override overrides.txt --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_31 --no-header --annotation-style line -o requirements.txt
	sed -i '1i # Locked for Python 3.11 on x86_64 Linux by `make lock`; install with --no-deps (see Makefile).' requirements.txt
	python3 tools/write_environment.py
	python3 tools/write_colab_requirements.py

# A Jupyter server from .venv that Colab can use as a local runtime (PORT=8888 by default); prints the URL.
colab: setup
	$(PY) tools/colab_runtime.py --port $(or $(PORT),8888)

# NOTEBOOKS=... chooses; .venv-colab/ is rebuilt each time (Colab's packages, then the setup cell's installs).
colab-sim: setup
	$(PY) tools/colab_sim.py run $(NOTEBOOKS)

# The book: lessons with their stored outputs (never executed), guide, results, API, in outputs/docs/site.
# Its toolchain lives in its own venv, .venv-docs, from requirements-docs.txt; warnings and broken links fail.
docs: $(DOCS_VENV)/.installed
	$(DOCS_VENV)/bin/python tools/docs_gen.py
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict --quiet -f outputs/docs/mkdocs.yml
	@echo "The book: outputs/docs/site/index.html (serve it: $(DOCS_VENV)/bin/python -m http.server -d outputs/docs/site)"

$(DOCS_VENV)/.installed: requirements-docs.txt
	tools/build_docs.sh venv $(DOCS_VENV)

# The built book in Debian's chromium (Playwright): every lesson page, its images, the navigation; screenshots
# in outputs/docs-screenshots/.
docs-test: docs
	tools/build_docs.sh chromium
	FEDKIT_DOCS_TEST=1 $(DOCS_VENV)/bin/python -m pytest -p no:cacheprovider --noconftest tests/test_docs.py -v

clean:
	rm -rf $(VENV) $(DOCS_VENV) .venv-colab outputs
