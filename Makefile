# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# bpmn-js, dmn-js, the properties panel and json-editor (pinned in package.json / package-lock.json) copied or
# bundled (esbuild, web/bundles/) where Flask serves them; git-ignored.
VENDOR := web/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed
BPMN_DIST := node_modules/bpmn-js/dist
# Camunda 7's external-task clients (Python and JavaScript), pinned, for tests/compat; git-ignored.
COMPAT := tests/compat
COMPAT_STAMP := $(COMPAT)/.python/.installed

.PHONY: run test test-under-load lint bench bench-peers bench-web clean vendor compat-clients

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(VENDOR_STAMP): package.json package-lock.json web/bundles/modeler.js web/bundles/decision.js web/bundles/schema-form.js
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp $(BPMN_DIST)/bpmn-navigated-viewer.production.min.js $(BPMN_DIST)/bpmn-modeler.production.min.js $(VENDOR)/
	cp -R $(BPMN_DIST)/assets $(VENDOR)/assets
	cp node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css $(VENDOR)/assets/
	mkdir -p $(VENDOR)/dmn && cp -R node_modules/dmn-js/dist/assets/. $(VENDOR)/dmn/
	# the properties panel ships no browser bundle, dmn-js's carries Inferno's development build,
	# json-editor's its webpack runtime and polyfills: esbuild makes all three (web/bundles/)
	for entry in modeler decision schema-form; do \
		node_modules/.bin/esbuild web/bundles/$$entry.js --bundle --minify --format=iife --target=es2020 \
			--define:process.env.NODE_ENV='"production"' --log-level=warning \
			--outfile=$(VENDOR)/baton-$$entry.js || exit 1; \
	done
	touch $@

vendor: $(VENDOR_STAMP)

$(COMPAT_STAMP): $(STAMP) $(COMPAT)/requirements.txt $(COMPAT)/package.json $(COMPAT)/package-lock.json
	rm -rf $(COMPAT)/.python
	$(BIN)/python -m pip install -q --target $(COMPAT)/.python -r $(COMPAT)/requirements.txt
	npm ci --prefix $(COMPAT) --no-audit --no-fund --loglevel=error
	touch $@

compat-clients: $(COMPAT_STAMP)

run: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/baton run

# The suite in two phases: most of it in TEST_PROCESSES pytest-xdist workers (a file stays on one
# worker: module fixtures are built once), then the chaos and multi-host runs one at a time (each
# starts a cluster of its own and restarts its servers). Exit 5 ("no tests ran": PYTEST_ARGS chose
# none of a phase) is not a failure; any other failure of either phase is, after both ran.
TEST_PROCESSES ?= 2
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
define run_suite
	rc=0; \
	$(1) $(PYTEST) -n $(TEST_PROCESSES) --dist loadfile -m "not chaos and not multihost" $(PYTEST_ARGS) || rc1=$$?; \
	$(1) $(PYTEST) -m "chaos or multihost" $(PYTEST_ARGS) || rc2=$$?; \
	for r in $${rc1:-0} $${rc2:-0}; do [ $$r -eq 0 ] || [ $$r -eq 5 ] || rc=1; done; exit $$rc
endef

test: $(STAMP) $(VENDOR_STAMP) $(COMPAT_STAMP)
	$(BIN)/ruff check .
	@$(call run_suite,)

# The suite while a CPU burner keeps every core busy (bench/burn.py, stopped when pytest ends,
# at most an hour): what must hold on a loaded machine, e.g. scripts never time out for a slow start.
test-under-load: $(STAMP) $(VENDOR_STAMP) $(COMPAT_STAMP)
	$(BIN)/ruff check .
	@$(call run_suite,$(BIN)/python bench/burn.py --seconds 3600 --)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/throughput.py

bench-peers: $(STAMP)
	$(BIN)/python bench/peers.py

bench-web: $(STAMP)
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) .baton artifacts node_modules $(VENDOR) $(COMPAT)/.python $(COMPAT)/node_modules
