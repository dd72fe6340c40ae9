# Two entry points for a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= data/warehouse/unmet.duckdb
DATA   ?= ../shared/data
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench lint train clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned torch would pull several GB of CUDA wheels.
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/unmet run data/sample --db $(DB)

test: $(STAMP)
	$(BIN)/ruff check pipelines models tests data/sample benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

# Benchmarks print figures (not part of `make test`): DOCS documents per corpus, figures also in bench.json.
DOCS ?= 2000
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --docs $(DOCS) --data-dir $(DATA) --json bench.json
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,peers]"
	$(BIN)/python benchmarks/peers.py --data-dir $(DATA) --json peers.json

train: $(STAMP)
	$(if $(VERSION),,$(error set VERSION, e.g. make train VERSION=1.1.0))
	$(BIN)/unmet train --data-dir $(DATA) --version $(VERSION)

clean:
	rm -rf $(VENV) data/warehouse
