# 19524 Zielona Linia. `make run` brings the whole hotline up; `make test` runs every test.
# Both do all set-up on a fresh Debian/Ubuntu machine as root (Debian packages, virtualenv, Asterisk sandbox).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE := $(or $(HOTLINE_STATE_DIR),var)
ASTERISK_ROOT := $(or $(HOTLINE_ASTERISK_ROOT),/var/cache/hotline-19524/asterisk-root)

.PHONY: run test lint bench setup-run setup-test sandbox prompts clean

run: setup-run $(VENV)/.installed sandbox prompts
	$(BIN)/hotline migrate
	$(BIN)/hotline offices import --if-empty
	exec $(BIN)/hotline up

# The password of a Redis that scripts/setup-system.sh started itself (none where one already answered).
REDIS_ENV = pw="$$(sed -n 's/^redis_password = "\(.*\)"$$/\1/p' $(STATE)/secrets.toml 2>/dev/null)"; \
	export HOTLINE_REDIS_PASSWORD="$$pw"; [ -z "$$pw" ] || export HOTLINE_TEST_REDIS="redis://:$$pw@127.0.0.1:6379/0";

test: setup-test $(VENV)/.installed sandbox prompts lint
	# The end-to-end calls run once, on PostgreSQL as in production; everything else on both databases.
	$(REDIS_ENV) HOTLINE_TEST_DATABASE=sqlite $(BIN)/pytest -q --ignore=tests/e2e
	$(REDIS_ENV) HOTLINE_TEST_DATABASE=postgresql HOTLINE_TEST_POSTGRES="$$(cat $(STATE)/test-postgres.url)" $(BIN)/pytest -q
	$(BIN)/python bench/agi_load.py --smoke
	$(BIN)/python bench/ivr_calls.py --smoke
	$(BIN)/python bench/offer_search.py --smoke
	$(BIN)/python bench/speech_streams.py --smoke
	$(REDIS_ENV) $(BIN)/python bench/queue_load.py --smoke

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hotline ivr agent_console ami_listener devtools launcher

bench: $(VENV)/.installed sandbox prompts
	$(BIN)/python bench/agi_load.py
	$(BIN)/python bench/ivr_calls.py
	$(BIN)/python bench/offer_search.py
	$(BIN)/python bench/speech_streams.py
	$(REDIS_ENV) $(BIN)/python bench/queue_load.py

setup-run:
	bash scripts/setup-system.sh run

setup-test:
	bash scripts/setup-system.sh test

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

sandbox:
	bash scripts/asterisk-root.sh $(ASTERISK_ROOT)

prompts: $(VENV)/.installed
	$(BIN)/hotline prompts

clean:
	rm -rf $(VENV) build *.egg-info
