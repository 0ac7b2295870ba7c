# Kvarn: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := app

.PHONY: run test install translations extract-messages lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# axe-core (package.json, exact version in package-lock.json) for the browser accessibility
# tests. Without npm they skip saying so (and fail in CI, KVARN_TEST_REQUIRE_SERVERS=1).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund && touch $@; \
	else \
	  echo "npm not found: axe-core is not installed, the browser accessibility tests will skip" >&2; \
	fi

install: $(VENV)/.installed translations node_modules/.installed

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d app/translations -D messages >/dev/null

extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o app/translations/messages.pot --no-location --no-wrap --sort-output --project Kvarn .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching --ignore-obsolete --no-wrap

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo
	@$(BIN)/python -m app.devserver --host $(HOST) --port $(PORT)

test: install lint
	$(BIN)/pytest $(PYTEST_ARGS)

# Style, and the import rules of docs/architecture.md (import-linter's contracts).
lint: $(VENV)/.installed
	$(BIN)/ruff check app tests bench
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/rush.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
