# The two commands a newcomer needs: `make run` and `make test`. Python 3.11+ is all they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
TEST_SETTINGS := DJANGO_SETTINGS_MODULE=config.settings.test

.PHONY: install run test lint format messages messages-missing clean bench mutation

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

install: $(VENV)/.installed

## Run web (http://127.0.0.1:8000), Celery worker and beat, with demo data. Ctrl-C stops all.
## Without DATABASE_URL/REDIS_URL: SQLite and a file-system broker in var/; with them, the servers.
run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sync_beat_schedule
	$(PY) manage.py seed_demo
	rm -rf var/prometheus && mkdir -p var/prometheus
	PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/prometheus" PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

## The whole test suite against PostgreSQL and Redis (override with DATABASE_URL, REDIS_URL).
test: install
	$(TEST_SETTINGS) $(PY) manage.py check_services
	$(BIN)/ruff check .
	$(TEST_SETTINGS) $(PY) manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

## Mutation testing of the core rule modules, each against its mirroring tests (not part of `test`
## or CI; README, "Test strength"). One module: make mutation MUTATION_MODULES=cards/expiry.py
mutation: install
	$(PY) -m pip install --quiet -r requirements-mutation.lock
	$(TEST_SETTINGS) $(PY) tests/mutation.py $(MUTATION_MODULES) $(MUTATION_ARGS)

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Merge the Chinese fragments in locale/fragments/ and compile them (GNU gettext); both the .po
## and the .mo are committed, so running the service needs no gettext.
CATALOG := locale/zh_Hans/LC_MESSAGES/django
messages:
	msgcat --use-first -o $(CATALOG).po locale/fragments/*.po
	msgfmt --check-format -o $(CATALOG).mo $(CATALOG).po

## List source strings that no fragment translates (then rebuilds the catalog from the fragments).
messages-missing: install messages
	$(PY) manage.py makemessages --locale zh_Hans --no-location --no-obsolete --no-wrap \
		--ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'
	msgattrib --untranslated --no-wrap $(CATALOG).po | grep '^msgid "' | tail -n +2 || true
	@echo "Fuzzy (a new source string makemessages guessed from a similar one: untranslated too;"
	@echo "Django's own strings, such as username, are translated by Django):"
	msgattrib --only-fuzzy --no-wrap $(CATALOG).po | grep '^msgid "' | tail -n +2 || true
	$(MAKE) --no-print-directory messages

clean:
	rm -rf var
