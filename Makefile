# Every target creates the virtual environment first when it is missing or out of date.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run solve test bench samples

$(VENV)/installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The app, with the Swedish sample loaded, on http://localhost:$(PORT)
run: $(VENV)/installed
	$(BIN)/python -m streamlit run app.py --server.headless=true --server.port=$(PORT) --browser.gatherUsageStats=false

# The command line on the Swedish sample
solve: $(VENV)/installed
	mkdir -p plans
	$(BIN)/officeplan solve inputs/sweden.xlsx -o plans/sweden_plan.xlsx --verbose

test: $(VENV)/installed
	$(BIN)/python -m pytest

bench: $(VENV)/installed
	$(BIN)/python benchmarks/bench_distances.py
	$(BIN)/python benchmarks/bench_solve.py
	$(BIN)/python benchmarks/bench_resolve.py
	$(BIN)/python benchmarks/bench_scale.py --sizes 300x300 2000x600 20000x2000 100000x3000
	$(BIN)/python benchmarks/bench_scale.py --general --sizes 300x300 2000x600 20000x2000 --no-finland
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/orlib_table.py --spopt

samples: $(VENV)/installed
	$(BIN)/python inputs/build_samples.py
	$(BIN)/officeplan template inputs/template.xlsx
