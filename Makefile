# fedkit: `make run` sets up and executes the notebooks into outputs/; `make test` runs the suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
KERNEL := fedkit
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
export TF_CPP_MIN_LOG_LEVEL := 3
export GRPC_VERBOSITY := ERROR

.PHONY: setup run test lint lock sweep bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet "$$(grep -o '^uv==[^ ]*' requirements.txt)"
	$(UV) pip install --python $(PY) --no-deps -r requirements.txt
	$(UV) pip install --python $(PY) --no-deps --no-build-isolation -e .
	$(PY) tools/install_kernel.py $(KERNEL)
	touch $@

run: setup
	mkdir -p outputs/notebooks
	for nb in $(NOTEBOOKS); do \
	  echo "== executing $$nb"; \
	  $(VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=$(KERNEL) \
	    --ExecutePreprocessor.timeout=1800 --output-dir outputs/notebooks "$$nb" || exit 1; \
	done
	@echo "Executed notebooks: outputs/notebooks/; figures: outputs/figures/; TensorBoard logs: outputs/tensorboard/"

test: setup
	$(PY) -m pytest tests notebooks --nbval --nbval-kernel-name=$(KERNEL) \
	  --nbval-sanitize-with=tests/nbval_sanitize.cfg --nbval-cell-timeout=1800 -v

sweep: setup
	$(PY) -m fedkit reproduce sweep

bench: setup
	$(PY) benchmarks/run.py

lint: setup
	$(VENV)/bin/ruff check fedkit tests tools benchmarks

lock:
	uv pip compile requirements.in --override overrides.txt --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_31 --no-header --annotation-style line -o requirements.txt
	sed -i '1i # Locked for Python 3.11 on x86_64 Linux by `make lock`; install with --no-deps (see Makefile).' requirements.txt
	python3 tools/write_environment.py

clean:
	rm -rf $(VENV) outputs
