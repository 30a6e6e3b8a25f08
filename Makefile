# make run: the service on the embedded default (SQLite under instance/, jobs inline).
# make test: the whole suite on SQLite and on PostgreSQL, with real Redis, and the recipient pages
# in Debian's headless Chromium, the nginx site of deploy/ in front of gunicorn, and inbound mail
# through Debian's Postfix to the LMTP listener (make install-browser, install-nginx and
# install-postfix install them when missing).
# make faults: worker kills and Redis and PostgreSQL outages under load, and a PostgreSQL outage
# while Postfix delivers to the LMTP listener, each scenario on a PostgreSQL and a Redis of its own
# (faults/; about 4 minutes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
# The worker's and the LMTP listener's app: the same settings without the web layer (a faster start).
WORKER_FLASK := $(BIN)/flask --app worker_app
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test faults bench bench-unsubscribe worker lmtp services install install-dev install-browser install-nginx install-dovecot install-postfix clean

# The service's own packages (requirements.txt); install-dev adds the tests', checks' and benchmarks'
# (requirements-dev.txt). Each has its marker, so `make run` after `make test` installs nothing more,
# and `make test` after `make run` installs what the tests need.
install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: install
	$(FLASK) db upgrade
	$(FLASK) demo
	$(BIN)/gunicorn --config config/gunicorn.py wsgi:app

# An RQ worker for the queues (inbound, aup, seeds), which also queues the periodic jobs of
# workers/schedule.py, each slot once however many run (needs REDIS_URL; run as many as you like).
worker: install
	$(WORKER_FLASK) worker

# The LMTP listener the MTA delivers inbound mail to (LMTP_BIND, default 127.0.0.1:8024; Postfix:
# `bounces.example lmtp:inet:127.0.0.1:8024` in its transport map).
lmtp: install
	$(WORKER_FLASK) lmtp

services:
	scripts/services.sh

# Debian's own packages: Selenium is never allowed to download a browser or a driver.
install-browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver)

# The nginx of deploy/nginx/ in front of gunicorn, which tests/test_deploy_nginx.py starts on loopback.
install-nginx:
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends nginx)

# Dovecot, the IMAP server the seed-mailbox tests start on loopback with their own configuration
# (tests/dovecot.py); Debian's service itself is not needed.
install-dovecot:
	test -x /usr/sbin/dovecot || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends dovecot-imapd)

# Postfix, the MTA the LMTP tests deliver through on loopback with a configuration directory of
# their own (tests/postfix.py). debconf is told "No configuration": nothing is set up system-wide,
# and Debian's postfix service is neither needed nor started.
install-postfix:
	test -x /usr/sbin/postfix || ($(SUDO) apt-get update && echo "postfix postfix/main_mailer_type select No configuration" | $(SUDO) debconf-set-selections && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix)

test: install-dev install-browser install-nginx install-dovecot install-postfix services
	$(BIN)/python -m pytest

# pytest.ini's testpaths is tests/: the fault tests are run by naming their directory.
faults: install-dev install-postfix services
	$(BIN)/python -m pytest faults -q

bench: install-dev services
	$(BIN)/python bench/check.py

bench-unsubscribe: install-dev services
	$(BIN)/python bench/unsubscribe.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
