# make run: the service on the embedded default (SQLite under instance/, jobs inline).
# make test: the whole suite on SQLite and on PostgreSQL, with real Redis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test bench worker services install clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

run: install
	$(FLASK) db upgrade
	$(FLASK) demo
	$(BIN)/gunicorn --config config/gunicorn.py wsgi:app

services:
	scripts/services.sh

test: install services
	$(BIN)/python -m pytest

bench: install services
	$(BIN)/python bench/check.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
