# Every target forwards to a script in scripts/ so each step can be read and run on its own.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: dev serve test smoke cluster bench bench-api bench-engine bench-spec bench-quality bench-cluster lint

dev:            ## install what is missing, then serve on 127.0.0.1:8000 (embedded SQLite)
	scripts/setup.sh runtime
	$(VENV)/bin/podplus serve

serve:          ## serve without the install step
	$(VENV)/bin/podplus serve

test:           ## install what is missing, then run the whole suite
	scripts/setup.sh test
	scripts/test.sh

smoke:          ## the deployment check: a throw-away server, every step timed
	scripts/setup.sh test
	$(PY) scripts/smoke.py

cluster:        ## PostgreSQL, an S3 store, two APIs and two workers on this machine; Ctrl-C stops all
	scripts/setup.sh test
	$(PY) scripts/cluster.py

bench:          ## API latency under assembly load vs the baselines, and the engine table
	scripts/setup.sh bench
	$(PY) benchmarks/bench.py

bench-api:      ## /api/users/me vs a bare endpoint, alone and with logins beside it
	scripts/setup.sh bench
	$(PY) benchmarks/api_bench.py

bench-engine:   ## the engine vs the single-pass floor vs two-pass loudnorm
	scripts/setup.sh bench
	$(PY) benchmarks/engine_bench.py

bench-spec:     ## what validating an episode costs, against json.loads of the same body
	scripts/setup.sh bench
	cd benchmarks && ../$(PY) spec_bench.py

bench-quality:  ## the encoded output measured by an independent meter: every format, target, option
	scripts/setup.sh bench
	$(PY) benchmarks/quality_bench.py

bench-cluster:  ## dispatch latency, jobs per hour on one and two workers, crash recovery vs embedded
	scripts/setup.sh bench
	$(PY) benchmarks/cluster_bench.py

lint:
	scripts/setup.sh test
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/mypy
