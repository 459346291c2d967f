# The two commands a new user types: `make run` and `make test`. Each creates or refreshes .venv
# from pyproject.toml (pinned by constraints.txt) itself, so nothing else needs installing first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK  := $(VENV)/.installed-spark
PORT   ?= 8501
# `make serve` (shared, signed-in mode): the secrets file with [auth] and [team], the data folder, the
# address to listen on (a TLS proxy on this host forwards to it) and the server-side upload cap in MB.
SECRETS   ?= .streamlit/secrets.toml
DATA_DIR  ?= data
ADDRESS   ?= 127.0.0.1
UPLOAD_MB ?= 50

.PHONY: run serve test bench bench-large bench-areas bench-spark lint sample constraints clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]" >> $(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

# The tests also run the Spark parity set (pyspark, ~600 MB), which `make run` does not need.
$(SPARK): $(STAMP)
	@echo "installing the spark extra for the parity tests (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,spark]" >> $(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; exit 1; }
	@touch $(SPARK)

run: $(STAMP)  ## open the dashboard (the bundled sample is loaded into an empty database before it starts)
	$(BIN)/funnel load-sample
	$(BIN)/streamlit run app.py --server.port $(PORT)

serve: $(STAMP)  ## the shared mode: sign-in required, databases from DATA_DIR (see "Share it with your team")
	@grep -qs '^\[auth\]' $(SECRETS) && grep -qs '^\[team\]' $(SECRETS) || { \
	  echo "make serve needs $(SECRETS) with an [auth] and a [team] section (README: Share it with your team)"; exit 1; }
	FUNNEL_DATA_DIR=$(DATA_DIR) $(BIN)/streamlit run app.py --server.address $(ADDRESS) --server.port $(PORT) \
	  --server.maxUploadSize $(UPLOAD_MB) --secrets.files $(SECRETS)

test: $(SPARK)  ## run every test (browser tests skip without Debian's chromium, Spark parity tests without Java)
# --no-loadscope-reorder: test files go to the two workers in collection order (the long browser files first);
# xdist's default sends the files with the most tests first, so the browser files ended the run on one worker.
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

bench: $(STAMP)  ## each step beside its DuckDB baseline at 100k and 1M leads (about an hour on 2 cores); table in benchmarks/results.md
	$(BIN)/python benchmarks/side_by_side.py --leads 100000 1000000 --out benchmarks/results.md

bench-large: $(STAMP)  ## the same at 10M leads / 100M activities (many hours; the import peaks near 11 GB, ~25 GB of disk)
	$(BIN)/python benchmarks/side_by_side.py --leads 10000000 --out benchmarks/results-large.md

bench-areas: $(STAMP)  ## the older per-area benchmarks (analyses, stage engine, imports) at 100k and 1M leads
	$(BIN)/python benchmarks/run.py

bench-spark: $(SPARK)  ## funnel metrics at 1M leads: DuckDB vs a local[2] Spark session (needs Java; long)
	$(BIN)/python benchmarks/bench_spark.py --leads 1000000

lint: $(STAMP)
	$(BIN)/ruff check funnel pages app.py tests benchmarks

sample: $(STAMP)  ## regenerate the bundled sample in sample_data/
	$(BIN)/funnel sample --leads 3000 --out sample_data

constraints:  ## re-pin the dependency versions after an upgrade
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
