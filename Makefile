# fsfer: set-up and the two commands of the README (`make demo`, `make test`).
# The set-up is idempotent and keeps its environment in .venv/ inside the repository.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.fsfer-setup

.PHONY: setup demo test clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "fsfer: error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned to the build these machines hold on local disk
	$(PIP) install -q "torch==2.14.1" "torchvision==0.29.1"
	# every other dependency, read from pyproject.toml (learn2learn comes next)
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; x = p['optional-dependencies']; print('\\n'.join(d for d in p['dependencies'] + x['learn2learn-runtime'] + x['test'] + x['bench'] + x['tensorboard'] if not d.startswith('learn2learn')))" > $(VENV)/requirements.txt
	$(PIP) install -q -r $(VENV)/requirements.txt
	# learn2learn 0.2.0's sdist ships C files from an old Cython that fail on Python 3.11
	# (learn2learn issue 413); Cython regenerates them. --no-deps skips gsutil and qpth,
	# which it lists but does not import (its import-time needs came with the extra above);
	# installed last, so that pip has no installed package to warn about.
	$(PIP) install -q cython
	$(PIP) show -q learn2learn >/dev/null 2>&1 || $(PIP) install -q --no-deps --no-build-isolation -C--build-option=build_ext "learn2learn==0.2.0"
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: setup
	$(VENV)/bin/fsfer episode-train --force

test: setup
	$(PY) -m pytest

clean-venv:
	rm -rf $(VENV)
