# twitterclone: `make run` serves the monolith, `make test` runs every check.
# Both set up everything first: uv (bootstrapped from PyPI when missing), the locked
# environment in .venv, and (for run) the migrations of every module.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: browser run up test lint typecheck architecture unit migrate fmt clean bench deploy image image-test faults faults-events web-assets

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==0.13.8"

## web-assets: the web client's browser assets (htmx) from web/package-lock.json, served from our own origin
HTMX_JS := src/twitterclone/gateway/web/static/vendor/htmx.min.js
web-assets: $(HTMX_JS)

$(HTMX_JS): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the web client's assets: apt-get install npm (Debian) or install Node.js 18+" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(dir $@)
	cp web/node_modules/htmx.org/dist/htmx.min.js $@

## run: migrate every module and serve the monolith on http://127.0.0.1:8000
run: $(VENV)/.synced $(HTMX_JS)
	$(BIN)/twitterclone migrate
	$(BIN)/twitterclone run

## up: every process of the split manifest (needs local PostgreSQL and Redis); MANIFEST=… for another
MANIFEST ?= deployments/split.toml
up: $(VENV)/.synced
	$(BIN)/twitterclone up --manifest $(MANIFEST)

migrate: $(VENV)/.synced
	$(BIN)/twitterclone migrate

## bench: start a fresh monolith, seed 1,000 users, measure (BENCHMARKS.md); BENCH_ARGS adds options
bench: $(VENV)/.synced
	$(BIN)/twitterclone bench --start-monolith $(BENCH_ARGS)

## deploy: render deployments/split.toml as Kubernetes YAML into deploy/split (checked in; a test keeps it fresh)
IMAGE ?= twitterclone:0.1.0
deploy: $(VENV)/.synced
	$(BIN)/twitterclone render kubernetes --manifest deployments/split.toml --image $(IMAGE) --out deploy/split

## image: the container image (Containerfile) on a debootstrapped Debian base; needs root (podman)
image: $(HTMX_JS)
	bash deploy/podman/image.sh build

## image-test: build the image, run the monolith container and the rendered Deployments (podman kube play)
image-test: $(VENV)/.synced image
	$(BIN)/pytest image-tests

## test: architecture contracts, lint, types, then the whole pytest suite (browser tests included)
test: $(VENV)/.synced $(HTMX_JS) browser architecture lint typecheck
	$(BIN)/pytest

## faults: kill services, PostgreSQL, Redis and the gateway of a split deployment under load (a few minutes)
faults: $(VENV)/.synced
	TWITTERCLONE_FAULTS=test_faults.py,test_event_loss.py timeout 900 $(BIN)/pytest -q -p no:cacheprovider tests/faults

## faults-events: only the events fault: a consumer is behind while Redis restarts empty (issue 16, finding 1)
faults-events: $(VENV)/.synced
	TWITTERCLONE_FAULTS=test_event_loss.py timeout 600 $(BIN)/pytest -q -p no:cacheprovider tests/faults

## browser: Debian's chromium for the browser tests (apt-get when root; otherwise says what to install)
browser:
	@scripts/ensure-chromium.sh

architecture: $(VENV)/.synced
	$(BIN)/lint-imports

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.synced
	$(BIN)/mypy

fmt: $(VENV)/.synced
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .tools data web/node_modules $(HTMX_JS) .pytest_cache .mypy_cache .ruff_cache
