# finray — one-command set-up on a fresh clone (needs only python3.11, pip and make).
#   make up    install, prepare the embedded stack, run the jobs on bundled data, serve on :8000
#   make down  stop everything `make up` started
#   make test  install dev extras and run every test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export FINRAY_HOME ?= $(CURDIR)/var
RAY_PORT ?= 6390            # not 6379: that is Redis's port
DASHBOARD_PORT ?= 8265
SERVE_URL := http://127.0.0.1:8000
DEMO_USERS ?= 1000

.PHONY: up down test install install-dev install-airflow browser jobs serve status clean

$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[forecast]'
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install -q -e '.[forecast,dev]'
	touch $@

install: $(VENV)/.base
install-dev: $(VENV)/.dev

# Airflow 3 in its own venv (its pins clash with Ray's); the DAG tests run there.
AF_VENV := .venv-airflow
AF_PY := $(AF_VENV)/bin/python
$(AF_VENV)/.airflow: airflow_dags/requirements.txt airflow_dags/constraints.txt
	test -x $(AF_PY) || $(PYTHON) -m venv $(AF_VENV)
	$(AF_PY) -m pip install -q --upgrade pip
	$(AF_PY) -m pip install -q -r airflow_dags/requirements.txt -c airflow_dags/constraints.txt
	touch $@

install-airflow: $(AF_VENV)/.airflow

# Headless Chromium and Korean/emoji fonts for the web front end's browser tests, from Debian
# (Playwright drives /usr/bin/chromium; never `playwright install`). Installs only what is missing;
# without root/apt-get it says what to install and the browser tests skip with that reason.
BROWSER_PKGS := chromium fonts-noto-cjk fonts-noto-color-emoji
browser:
	@missing=$$(for p in $(BROWSER_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "browser tests will skip; install: sudo apt-get install -y $$missing"; fi

# RiskXpert's indicators and forecaster are built once: a re-run keeps the published model version
# (retrain and publish a new one with `.venv/bin/python -m data_jobs train_forecaster`).
jobs: install
	mkdir -p $(FINRAY_HOME)
	$(PY) -m data_jobs seed_users --users $(DEMO_USERS)
	$(PY) -m data_jobs collect_products
	$(PY) -m data_jobs embed_products
	$(PY) -m data_jobs embed_users
	test -f $(FINRAY_HOME)/models/latest || { $(PY) -m data_jobs collect_indicators && $(PY) -m data_jobs train_forecaster; }

# The local demo signs in without Kakao: dev login and one demo admin, unless the shell says
# otherwise (`AUTH_DEV_LOGIN=false make up`). Exported before `ray start` and also written into the
# deployed config (serve_apps/deploy_config.py), so a Ray that is already running gets them too.
# Never in Kubernetes: the RayService takes serve_config.yaml itself and its settings from the
# ConfigMap, which has no AUTH_DEV_LOGIN.
serve: export AUTH_DEV_LOGIN ?= true
serve: export AUTH_ADMIN_USER_IDS ?= U0000001
SERVE_DEPLOY_CONFIG = $(FINRAY_HOME)/serve_config.deploy.yaml

serve: install
	@if ! $(VENV)/bin/ray status --address 127.0.0.1:$(RAY_PORT) >/dev/null 2>&1; then \
	  $(VENV)/bin/ray start --head --port $(RAY_PORT) --num-cpus 2 \
	    --dashboard-host 127.0.0.1 --dashboard-port $(DASHBOARD_PORT) --disable-usage-stats >/dev/null; \
	fi
	$(PY) -m serve_apps.deploy_config serve_apps/serve_config.yaml -o $(SERVE_DEPLOY_CONFIG) \
	  --env FINRAY_HOME --env AUTH_DEV_LOGIN --env AUTH_ADMIN_USER_IDS
	RAY_AUTH_MODE=$(or $(RAY_AUTH_MODE),token) RAY_DASHBOARD_ADDRESS=http://127.0.0.1:$(DASHBOARD_PORT) $(VENV)/bin/serve deploy $(SERVE_DEPLOY_CONFIG)
	$(PY) -m serve_apps.wait_ready $(SERVE_URL)/ --timeout 180
	@echo "serving:        $(SERVE_URL)/"
	@echo "API docs:       $(SERVE_URL)/docs"
	@echo "web app:        $(SERVE_URL)/app/"
	@echo "Ray dashboard:  http://127.0.0.1:$(DASHBOARD_PORT)"
	@if [ "$(AUTH_DEV_LOGIN)" = true ]; then \
	  echo "dev login:      ON (AUTH_DEV_LOGIN=true, demo only) — sign in at $(SERVE_URL)/app/ or POST /api/v1/auth/dev-login"; \
	else echo "dev login:      off (AUTH_DEV_LOGIN=$(AUTH_DEV_LOGIN)) — sign in with Kakao"; fi
	@echo "admin users:    $(or $(AUTH_ADMIN_USER_IDS),none) (AUTH_ADMIN_USER_IDS)"

up: jobs serve

down:
	-@test -x $(VENV)/bin/serve && RAY_AUTH_MODE=$(or $(RAY_AUTH_MODE),token) RAY_DASHBOARD_ADDRESS=http://127.0.0.1:$(DASHBOARD_PORT) $(VENV)/bin/serve shutdown -y >/dev/null 2>&1
	-@test -x $(VENV)/bin/ray && $(VENV)/bin/ray stop --force >/dev/null 2>&1
	@echo "stopped"

test: install-dev install-airflow browser
	$(PY) -m pytest
	$(AF_PY) -m pytest --confcutdir=tests/airflow -p no:cacheprovider tests/airflow

clean: down
	rm -rf $(FINRAY_HOME)
