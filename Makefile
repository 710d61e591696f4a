# The two commands a newcomer needs: `make run` and `make test`. Python 3.11+ is all they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
TEST_SETTINGS := DJANGO_SETTINGS_MODULE=config.settings.test

.PHONY: install run test lint format messages clean bench

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
	$(PY) manage.py seed_demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

## The whole test suite against PostgreSQL and Redis (override with DATABASE_URL, REDIS_URL).
test: install
	$(TEST_SETTINGS) $(PY) manage.py check_services
	$(BIN)/ruff check .
	$(TEST_SETTINGS) $(PY) manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Extract and compile the translations (needs GNU gettext); the compiled .mo files are committed.
messages: install
	$(PY) manage.py makemessages --locale zh_Hans --ignore '$(VENV)/*' --ignore 'var/*'
	$(PY) manage.py compilemessages --locale zh_Hans --ignore '$(VENV)/*'

clean:
	rm -rf var
