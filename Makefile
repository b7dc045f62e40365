# Responder — the two commands: `make run` and `make test`. Both set up .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DEMO_PASSWORD ?= responder-demo
# Links in notices and calendar feeds point where `make run` serves.
export SITE_URL ?= http://localhost:$(or $(WEB_PORT),8000)
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/responder
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-pg browser alertmanager gettext messages lint check-deploy audit fmt venv clean-var bench fuzz

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when a requirements file changed.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime

## browser: Debian's Chromium and a CJK font for the browser tests (tests/e2e),
## and axe-core (pinned, from npm into node_modules/, not served) for their
## accessibility checks. Playwright's own browser download is never used. The
## files are the stamps: apt and npm run only when one is missing.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
NPM := /usr/bin/npm
AXE_VERSION := 4.10.3
AXE := node_modules/.axe-core-$(AXE_VERSION)
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL = $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

browser: $(CHROMIUM) $(CJK_FONT) $(AXE)

$(CHROMIUM) $(CJK_FONT):
	$(APT_INSTALL) chromium fonts-wqy-microhei \
	|| { $(SUDO) apt-get update && $(APT_INSTALL) chromium fonts-wqy-microhei; }

$(NPM):
	$(APT_INSTALL) npm || { $(SUDO) apt-get update && $(APT_INSTALL) npm; }

# tests/e2e/conftest.py reads node_modules/axe-core/axe.min.js.
$(AXE): | $(NPM)
	$(NPM) install --no-save --no-package-lock --no-audit --no-fund axe-core@$(AXE_VERSION)
	touch $@

## alertmanager: Debian's Prometheus Alertmanager for tests/integration/test_alertmanager.py
## (the tests start their own instance; the package's service is not used). The
## binary is the stamp: apt runs only when it is missing.
ALERTMANAGER := /usr/bin/prometheus-alertmanager
alertmanager: $(ALERTMANAGER)

$(ALERTMANAGER):
	$(APT_INSTALL) prometheus-alertmanager \
	|| { $(SUDO) apt-get update && $(APT_INSTALL) prometheus-alertmanager; }

## gettext: GNU gettext's msgfmt, which compiles the translations.
MSGFMT := /usr/bin/msgfmt
gettext: $(MSGFMT)

$(MSGFMT):
	$(APT_INSTALL) gettext || { $(SUDO) apt-get update && $(APT_INSTALL) gettext; }

## The compiled translations (not in git): rebuilt when a .po file changes.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))
$(MO_FILES): %.mo: %.po | $(MSGFMT) $(VENV)/.runtime
	$(BIN)/python manage.py compilemessages --ignore ".venv/*" --verbosity 0

## messages: update the .po files from the code (then translate what is new).
messages: $(VENV)/.runtime | $(MSGFMT)
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --add-location file \
		--ignore ".venv/*" --ignore "var/*" --ignore "static/*" --ignore "tests/*" \
		--ignore "bench/*" --ignore "docs/*" --ignore "node_modules/*"

## run: the embedded default (SQLite + filesystem broker) or, with DATABASE_URL /
## REDIS_URL set, PostgreSQL + Redis. Web on :8000, a Celery worker and beat, run
## from the Procfile by honcho (manage.py run_procfile: Ctrl-C stops all three
## cleanly and exits 0; the log's times are in TIME_ZONE, said on its first line).
run: $(VENV)/.runtime $(MO_FILES)
	$(BIN)/python manage.py wait_for_database --create
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Responder is starting on http://localhost:$${WEB_PORT:-8000}/"
	@echo "  Demo logins (password: $(DEMO_PASSWORD)):"
	@echo "    onduty (on-duty)  engineer  tester  lead (tech lead)  manager  admin   [team platform]"
	@echo "    pay-engineer                                                         [team payments]"
	@echo "  Public status page (no sign-in): http://localhost:$${WEB_PORT:-8000}/status/"
	@echo "  Ctrl-C stops web, worker and beat."
	@echo ""
	exec $(BIN)/python manage.py run_procfile

## test: the whole suite; respects DATABASE_URL (e.g. PostgreSQL).
test: $(VENV)/.dev browser alertmanager $(MO_FILES)
	$(BIN)/pytest

## test-pg: the whole suite on this machine's PostgreSQL and Redis.
test-pg: $(VENV)/.dev browser alertmanager $(MO_FILES)
	DATABASE_URL=$(PG_TEST_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest

## check-deploy: the production settings pass Django's deployment checks, warnings
## included (a throwaway strong secret; HTTPS on, DEBUG off).
check-deploy: $(VENV)/.runtime
	DEBUG=false HTTPS=true ALLOWED_HOSTS=responder.example.com \
	SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

lint: $(VENV)/.dev | $(MSGFMT)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	bash .ci/check-translations
	$(BIN)/bandit -ll -q -r incidents escalation knowledge common config

## audit: known vulnerabilities in the pinned requirements (pip-audit). Fails on
## a known vulnerability; says "NOT RUN" with pip-audit's own reasons when it
## could not look dependencies up, so an audit that saw nothing never passes as clean.
audit: $(VENV)/.dev
	bash .ci/audit

fmt: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-var:
	rm -rf var/

## bench: API, pages, escalation, knowledge, load and alert intake benchmarks on PostgreSQL
## (100k incidents each), and the public status page's (50 published incidents).
bench: $(VENV)/.dev
	$(BIN)/python bench/api.py; api=$$?; $(BIN)/python bench/pages.py; pages=$$?; \
	$(BIN)/python bench/escalation.py; esc=$$?; \
	$(BIN)/python bench/knowledge.py; kb=$$?; $(BIN)/python bench/load.py; load=$$?; \
	$(BIN)/python bench/alerts.py; alerts=$$?; $(BIN)/python bench/status.py; status=$$?; \
	exit $$(( api || pages || esc || kb || load || alerts || status ))

## fuzz: Schemathesis against the live schema (all checks, token auth).
fuzz: $(VENV)/.dev
	bash .ci/fuzz-api
