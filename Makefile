# Civicline: `make run` starts everything on embedded defaults; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install browser mail wrk run test lint format fuzz bench bench-guard clean

$(BIN)/civicline: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Civicline needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/civicline

# Browser tests drive Debian's Chromium; Playwright never downloads a browser of its own. The
# CJK font makes the screenshots show Chinese instead of boxes.
browser:
	@{ command -v chromium >/dev/null 2>&1 && test -d /usr/share/fonts/opentype/noto; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	  else echo "browser tests need Chromium and a CJK font: sudo apt-get install chromium fonts-noto-cjk"; fi; }

# The letters' tests read mail from a real IMAP server: Debian's dovecot, run by each test as
# its own process on a free port (tests/support/mailserver.py); the system service is not used.
mail:
	@command -v dovecot >/dev/null 2>&1 || test -x /usr/sbin/dovecot || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd; \
	  else echo "the mail tests need dovecot: sudo apt-get install dovecot-imapd"; fi; }

# The intake benchmarks load the gateway with Debian's wrk.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else echo "the benchmarks need wrk: sudo apt-get install wrk"; fi; }

run: install
	$(BIN)/civicline run

test: install browser mail
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Schemathesis against the live gateway, every operation and phase with an admin's token, no
# server error and no answer the OpenAPI document does not declare (.ci/fuzz; about 3 minutes).
fuzz: install
	bash .ci/fuzz

# CPU per intake request and per case next to their aims (issue 20); about 6 minutes.
bench: install wrk
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/worker.py --count 1000

# CI's short version: fails when CPU per request or per case grows > 30 % over bench/baseline.json.
bench-guard: install wrk
	$(BIN)/python bench/guard.py $(GUARD_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

# --- Rasa: the production NLU engine (DESIGN: "NLU"). ---------------------------------------
# `make rasa` installs Rasa into its own Python 3.10 virtualenv (it cannot share .venv), trains
# the model from src/civicline/nlu/rasa/config.yml and the training data when they changed,
# and serves it on 127.0.0.1:$(RASA_PORT). The gateway then uses it, falling back to the local
# classifier whenever Rasa is down:
#   CIVICLINE_RASA_URL=http://127.0.0.1:5005 CIVICLINE_RASA_TOKEN=$$(cat var/rasa/token) make run
# The token is RASA_TOKEN if set, else one generated once into var/rasa/token.
RASA_VERSION ?= 3.6.21
RASA_VENV    ?= .rasa-venv
RASA_PORT    ?= 5005
RASA_TOKEN   ?=
# The first python3.10 that runs (a pyenv shim on PATH may exist and still refuse to).
PYTHON310    ?= $(shell for py in $$(command -v python3.10) \
                  $$(ls -d $(HOME)/.pyenv/versions/3.10.*/bin/python3.10 \
                           /root/.pyenv/versions/3.10.*/bin/python3.10 2>/dev/null | sort -rV); do \
                  "$$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null \
                  && { echo "$$py"; break; }; done)
RASA_DIR     := src/civicline/nlu/rasa
# Training data: the examples the local classifier learns (nlu/data/nlu.yml and the training
# files of nlu/data/training/, written as Rasa NLU YAML by `civicline nlu export-rasa`), the
# entity regexes, the city's imported tickets (`civicline nlu import`) and the corrections by
# operators and staff when there are any.
RASA_IMPORTED := $(wildcard $(addprefix $(or $(CIVICLINE_VAR_DIR),var)/nlu/,imported.yml corrections.yml))
RASA_SHIPPED := src/civicline/nlu/data/nlu.yml $(sort $(wildcard src/civicline/nlu/data/training/*.yml))
RASA_EXPORT  := src/civicline/nlu/rasa_export.py src/civicline/nlu/training_data.py
RASA_DATA    := $(RASA_DIR)/regex.yml $(RASA_IMPORTED)
RASA_SOURCES := $(RASA_DIR)/config.yml $(RASA_SHIPPED) $(RASA_EXPORT) $(RASA_DATA)
# The model is named by a hash of the Rasa version, config, data and the export's code
# (comment lines left out): same inputs, no retraining.
RASA_HASH    := $(shell { echo "rasa==$(RASA_VERSION)"; cat $(RASA_SOURCES) | grep -v '^[[:space:]]*\#'; } \
                  | sha256sum | cut -c1-16)
RASA_MODEL   := var/rasa/models/nlu-$(RASA_HASH).tar.gz
RASA_ENV     := RASA_TELEMETRY_ENABLED=false RASA_CACHE_DIRECTORY=var/rasa/cache
RASA_READY   := import sys; from importlib.metadata import version; version("jieba"); \
                sys.exit(sys.version_info[:2] != (3, 10) or version("rasa") != "$(RASA_VERSION)")

.PHONY: rasa-install rasa-train rasa

rasa-install:
	@if $(RASA_VENV)/bin/python -c '$(RASA_READY)' 2>/dev/null; then \
	  echo "rasa $(RASA_VERSION) and jieba are installed in $(RASA_VENV)"; \
	else \
	  test -n "$(PYTHON310)" || { echo "Rasa $(RASA_VERSION) needs Python 3.10: install it or set PYTHON310=/path/to/python3.10" >&2; exit 1; }; \
	  if ! $(RASA_VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
	    rm -rf $(RASA_VENV) && $(PYTHON310) -m venv $(RASA_VENV); \
	  fi; \
	  echo "installing rasa $(RASA_VERSION) and jieba into $(RASA_VENV) (about 2.7 GB, a minute or more)"; \
	  $(RASA_VENV)/bin/pip install --quiet 'rasa==$(RASA_VERSION)' jieba; \
	fi

# Prints the model's path as its last line (the integration tests read it).
rasa-train: $(RASA_MODEL)
	@echo $(RASA_MODEL)

$(RASA_MODEL): | rasa-install $(BIN)/civicline
	@mkdir -p var/rasa/models
	@set -e; work=$$(mktemp -d var/rasa/train.XXXXXX); trap 'rm -rf "$$work"' EXIT; \
	mkdir "$$work/data"; cp $(RASA_DATA) "$$work/data/"; \
	$(BIN)/civicline nlu export-rasa "$$work/data/shipped.yml" >/dev/null; \
	echo "training Rasa model $(notdir $@)"; \
	$(RASA_ENV) $(RASA_VENV)/bin/rasa train nlu --config $(RASA_DIR)/config.yml \
	  --nlu "$$work/data" --out "$$work" --fixed-model-name model; \
	mv "$$work/model.tar.gz" $@; \
	find var/rasa/models -name 'nlu-*.tar.gz' ! -name $(notdir $@) -delete

var/rasa/token:
	@mkdir -p var/rasa
	@umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > $@

rasa: rasa-train var/rasa/token
	@echo "serving $(RASA_MODEL) on http://127.0.0.1:$(RASA_PORT)"
	@token='$(RASA_TOKEN)'; [ -n "$$token" ] || token=$$(cat var/rasa/token); \
	$(RASA_ENV) exec $(RASA_VENV)/bin/rasa run --enable-api --auth-token "$$token" \
	  --port $(RASA_PORT) -i 127.0.0.1 -m $(RASA_MODEL) \
	  --logging-config-file $(RASA_DIR)/logging.yml
