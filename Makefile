# mailflow: `make demo` shows it work; `make test` checks everything.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install test lint typecheck unit demo dovecot cyrus bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's dovecot-imapd, installed when missing and we may (root, apt-get); else say how.
dovecot:
	@if [ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's dovecot-imapd for the integration tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null; \
	else \
		echo "Dovecot is missing: run 'sudo apt-get install dovecot-imapd' to run the IMAP tests (they are skipped without it)"; \
	fi

# Debian 12's Cyrus IMAP 3.6 for the second IMAP server of the tests: cyrus-imapd conflicts with
# dovecot-imapd in apt, so it is unpacked into .cache/cyrus-root (apt-get download + dpkg -x, no root
# needed; CYRUS_TEST_ROOT picks another place) and run from there. Idempotent; see tests/rig/cyrus.py.
cyrus: $(STAMP)
	@$(BIN)/python -m tests.rig.cyrus install || true

lint: $(STAMP)
	$(BIN)/ruff check mailflow tests bench
	$(BIN)/ruff format --check mailflow tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: $(STAMP) dovecot cyrus lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(BIN)/mailflow demo

bench: $(STAMP) dovecot
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
