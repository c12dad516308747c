# make run   — set everything up and serve the IdP on http://localhost:5000 (SQLite)
# make test  — set everything up and run the whole suite (SQLite)
VENV    ?= .venv
PYTHON  ?= python3
PORT    ?= 8000
WORKERS ?= 2
THREADS ?= 16
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
PG_TEST_DB   ?= idp_test_$(shell echo $$PPID)

BIN   := $(VENV)/bin
FLASK := $(BIN)/flask --app app
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-postgres serve bench lint install test-deps bench-deps clean translations messages

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(BIN)/.installed translations

# The languages' catalogues (idp/translations/<lang>/LC_MESSAGES/messages.po), compiled.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard idp/translations/*/LC_MESSAGES/messages.po))
translations: $(CATALOGUES)
%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel -q compile -i $< -o $@

# After changing a page's words: extract them and add the new ones to every catalogue.
messages: $(BIN)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k N_ --no-location --sort-output \
	  --ignore-dirs '.* ._' \
	  --project idp -o idp/translations/messages.pot .
	$(BIN)/pybabel -q update -i idp/translations/messages.pot -d idp/translations \
	  --no-fuzzy-matching --ignore-obsolete

# The access log never has query strings (an id_token_hint, a login_hint...).
ACCESS_LOG := --access-log --access-log-fmt '%(method)s %(path)s %(status)d "%(header{user-agent})s"' \
  --log-config logging.json

run: export IDP_PLAYGROUND ?= on
run: install
	$(FLASK) idp init --demo
	@echo "serving http://localhost:5000"
	$(BIN)/granian --interface wsgi --host 127.0.0.1 --port 5000 --workers 1 \
	  --blocking-threads $(THREADS) --no-ws $(ACCESS_LOG) app:app

# Debian's chromium drives the browser tests (Playwright cannot download one here),
# and Debian's nginx is the reverse proxy one live test runs behind;
# node-oidc-provider (tests/upstream, from npm) is the upstream provider the tests sign in through,
# and axe-core (the same package) checks every page's accessibility in chromium.
test-deps:
	@missing=""; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  test -x /usr/sbin/nginx || command -v nginx >/dev/null 2>&1 || missing="$$missing nginx-light"; \
	  command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian's$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi
	@test -d tests/upstream/node_modules/oidc-provider -a -d tests/upstream/node_modules/axe-core || \
	  (cd tests/upstream && npm ci --no-audit --no-fund --silent)

test: install test-deps
	$(BIN)/python -m pytest

test-postgres: install test-deps
	$(BIN)/python -m tests.pgdb create $(PG_ADMIN_URL) $(PG_TEST_DB)
	IDP_TEST_DATABASE_URL=$$($(BIN)/python -m tests.pgdb url $(PG_ADMIN_URL) $(PG_TEST_DB)) \
	  $(BIN)/python -m pytest; status=$$?; \
	  $(BIN)/python -m tests.pgdb drop $(PG_ADMIN_URL) $(PG_TEST_DB); exit $$status

# Without IDP_ISSUER, the issuer is the address served: http://localhost:$(PORT).
serve: export IDP_ISSUER ?= http://localhost:$(PORT)
serve: install
	$(FLASK) idp init
	@echo "serving $$IDP_ISSUER (listening on 0.0.0.0:$(PORT))"
	$(BIN)/granian --interface wsgi --host 0.0.0.0 --port $(PORT) --workers $(WORKERS) \
	  --blocking-threads $(THREADS) --no-ws --respawn-failed-workers $(ACCESS_LOG) app:app

# The benchmark's load generator is Debian's wrk.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing Debian's wrk for the benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

bench: install bench-deps
	$(BIN)/python bench/run.py $(ARGS)

lint: install
	$(BIN)/ruff check idp tests bench app.py
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/upstream/node_modules
