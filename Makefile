# Generative Media Studio — the developer interface. `make` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
GMS_WORKSPACE ?= $(HOME)/Generative_Studio_Workspace
ROOT := $(shell id -u 2>/dev/null)
ALLOW_ROOT := $(if $(filter 0,$(ROOT)),--allow-root,)
export GMS_WORKSPACE
# the venv's tools (jupyter, jlpm, jupyter-builder) come first
export PATH := $(abspath $(BIN)):$(PATH)

# system tools the studio needs: "command:debian-package" pairs
DEV_SYSTEM := git:git git-lfs:git-lfs redis-server:redis-server node:nodejs
TEST_SYSTEM := $(DEV_SYSTEM) chromium:chromium dockerd:docker.io debootstrap:debootstrap openssl:openssl

# Install the missing Debian packages of $(1), or say clearly what to install.
define ensure_system
	@missing=""; \
	for pair in $(1); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$(ROOT)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing system packages with sudo:$$missing"; \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Please install these system packages, then run make again:$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: system
system: ## Install the system packages the studio needs (git, git-lfs, redis-server)
	$(call ensure_system,$(DEV_SYSTEM))

.PHONY: system-test
system-test: ## Install the system packages the tests need as well (chromium, docker.io, openssl)
	$(call ensure_system,$(TEST_SYSTEM))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# the editable install runs the Jupyter builder hook, which builds the lab extension
$(VENV)/.installed: $(BIN)/python pyproject.toml labextension/package.json
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/jupyter labextension develop --overwrite . >/dev/null
	$(BIN)/jupyter server extension enable --sys-prefix gms_lab >/dev/null
	touch $@

.PHONY: install
install: system $(VENV)/.installed ## Install the studio into .venv (Python packages, lab extension)

# The diffusion pipeline's packages: torch first and pinned (TORCH=torch==2.13.0 is the CPU
# build; an unpinned torch pulls the CUDA build, gigabytes), then the `diffusion` extra's
# requirements, which keep it (read from pyproject.toml: the editable install stays as it is).
TORCH ?= torch==2.13.0
$(VENV)/.diffusion: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['diffusion'], sep='\n')" > $(VENV)/diffusion-requirements.txt
	$(BIN)/pip install -q -r $(VENV)/diffusion-requirements.txt
	touch $@

.PHONY: install-diffusion
install-diffusion: install $(VENV)/.diffusion ## Install the diffusion pipeline too (TORCH=torch==2.13.0, the CPU build)

.PHONY: build
build: $(VENV)/.installed ## Build the lab extension (production) and the wheel into dist/
	cd labextension && (jlpm install --immutable || jlpm install) && jlpm build:prod
	$(BIN)/pip wheel -q --no-deps -w dist .

.PHONY: dev
dev: install ## Install what is missing and start JupyterLab in the workspace (PORT=8888)
	@mkdir -p "$(GMS_WORKSPACE)"
	@echo "Workspace: $(GMS_WORKSPACE)"
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT) \
	  --ServerApp.root_dir="$(GMS_WORKSPACE)"

.PHONY: types
types: $(VENV)/.installed ## Regenerate the TypeScript event types from the Python models
	$(BIN)/python -m gms_lab schema > labextension/src/events.schema.json
	cd labextension && ../$(BIN)/jlpm gen:types

.PHONY: lint
lint: $(VENV)/.installed ## ruff, mypy (strict), eslint and prettier
	$(BIN)/ruff check gms_lab tests pipelines
	$(BIN)/ruff format --check gms_lab tests pipelines
	$(BIN)/mypy
	cd labextension && ../$(BIN)/jlpm lint

# The Docker tests (a private dockerd, image builds, compose) mostly wait on the disk and the
# Debian mirror: they run beside the rest of the suite, their output kept until the end.
DOCKER_TEST_LOG := test-results/pytest-docker.log
.PHONY: test
test: system-test install install-diffusion ## Install what the tests need and run the whole suite (lint included)
	@mkdir -p test-results
	@echo "Docker tests (pytest -m docker) run beside the rest; their output: $(DOCKER_TEST_LOG)"
	@$(BIN)/python -m pytest -m docker -p no:cacheprovider > $(DOCKER_TEST_LOG) 2>&1 & docker=$$!; \
	trap 'kill $$docker 2>/dev/null || true' EXIT; status=0; \
	$(MAKE) lint || status=1; \
	(cd labextension && ../$(BIN)/jlpm test) || status=1; \
	$(BIN)/python -m pytest -m "not docker" || status=1; \
	echo "Waiting for the Docker tests ..."; wait $$docker || status=1; \
	echo "==================== Docker tests (pytest -m docker) ===================="; \
	cat $(DOCKER_TEST_LOG); exit $$status

.PHONY: bench
bench: install install-diffusion ## Run the benchmarks (ratios against baselines measured in the same run)
	$(BIN)/python -m tests.bench

# the images' Python packages: the studio's dependencies (with the worker's ffmpeg extra), the
# tools that build its wheel and uv (which installs them), for Python 3.11 on every platform
LOCK := docker/requirements.lock
.PHONY: lock
lock: $(BIN)/python ## Pin the images' Python packages in docker/requirements.lock (UPGRADE=1: newest of all)
	$(BIN)/pip install -q uv
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], 'uv', sep='\n')" \
	  | $(BIN)/uv pip compile pyproject.toml - --extra ffmpeg --universal --python-version 3.11 \
	      --native-tls --quiet --custom-compile-command "make lock" \
	      $(if $(UPGRADE),--upgrade,) -o $(LOCK)
	@echo "Pinned $$(grep -c '==' $(LOCK)) packages in $(LOCK)"

.PHONY: new-project
new-project: install ## Create a project: make new-project NAME="Harbour" [QUALITY=standard]
	@test -n "$(NAME)" || (echo 'Usage: make new-project NAME="My film" [QUALITY=standard]' >&2; exit 2)
	$(BIN)/python -m gms_lab new-project "$(NAME)" --quality "$(or $(QUALITY),standard)"

# --- containers (docker compose) ------------------------------------------------------------
# COMPOSE_FILE (compose's own variable: files joined by ":") adds override files; compose also
# reads COMPOSE_PROJECT_NAME, GMS_PORT, JUPYTER_TOKEN, GMS_COMFYUI_PORT from the environment.
COMPOSE_FILE ?= docker/compose.yaml
export COMPOSE_FILE
COMPOSE := docker compose
WAIT := --wait --wait-timeout $(or $(GMS_WAIT_TIMEOUT),900)
STUDIO_URL = http://127.0.0.1:$${GMS_PORT:-8888}/lab?token=$${JUPYTER_TOKEN:-studio}

define need_compose
	@docker compose version >/dev/null 2>&1 || (echo "docker compose is not available: install Docker with the compose plugin, or use make dev." >&2; exit 2)
endef

.PHONY: up
up: ## Build and start lab, worker and redis; returns when the studio answers, with its URL
	$(need_compose)
	$(COMPOSE) up -d --build $(WAIT)
	@echo "The studio is up: $(STUDIO_URL)"

# GPUs for ComfyUI when the host has NVIDIA GPUs (and Docker its NVIDIA runtime)
.PHONY: up-with-comfyui
up-with-comfyui: ## make up, plus a ComfyUI server (GPUs when there are) the studio is told about
	$(need_compose)
	gpu=""; if nvidia-smi -L >/dev/null 2>&1; then gpu=":docker/compose.gpu.yaml"; echo "NVIDIA GPUs found: ComfyUI gets them"; fi; \
	COMPOSE_FILE="$(COMPOSE_FILE)$$gpu" GMS_COMFYUI_URL=http://comfyui:8188 \
	  $(COMPOSE) --profile comfyui up -d --build $(WAIT)
	@echo "The studio is up: $(STUDIO_URL)"
	@echo "ComfyUI is up: http://127.0.0.1:$${GMS_COMFYUI_PORT:-8188} (the studio reaches it at http://comfyui:8188)"

# The docker runner's workspace is a host folder: made here, for the services' uid, when missing
# (Docker would make it for root, and the services could not write it).
.PHONY: up-docker-runner
up-docker-runner: ## make up with pipelines in containers: GMS_HOST_WORKSPACE=/srv/films (a host folder)
	$(need_compose)
	@test -n "$(GMS_HOST_WORKSPACE)" || (echo 'Usage: make up-docker-runner GMS_HOST_WORKSPACE=/srv/films' >&2; exit 2)
	@dir="$(GMS_HOST_WORKSPACE)"; uid="$${GMS_UID:-1000}"; \
	case "$$dir" in /*) ;; *) echo "GMS_HOST_WORKSPACE must be an absolute path, not $$dir" >&2; exit 2;; esac; \
	if [ ! -e "$$dir" ]; then \
	  echo "Creating $$dir for uid $$uid"; \
	  install -d -o "$$uid" -g "$$uid" "$$dir" 2>/dev/null || sudo install -d -o "$$uid" -g "$$uid" "$$dir" \
	    || { echo "Could not create $$dir for uid $$uid: sudo install -d -o $$uid -g $$uid $$dir" >&2; exit 1; }; \
	fi; \
	owner="$$(stat -c %u "$$dir")"; \
	if [ "$$owner" != "$$uid" ]; then \
	  echo "$$dir belongs to uid $$owner, but the studio's services run as uid $$uid and could not write it." >&2; \
	  echo "Give it to them (sudo chown -R $$uid $$dir) or run them as its owner (GMS_UID=$$owner)." >&2; exit 1; \
	fi
	GMS_DOCKER_GID="$${GMS_DOCKER_GID:-$$(stat -c %g $${GMS_DOCKER_SOCKET:-/var/run/docker.sock} 2>/dev/null || echo 0)}" \
	  COMPOSE_FILE="$(COMPOSE_FILE):docker/compose.docker-runner.yaml" $(COMPOSE) up -d --build $(WAIT)
	@echo "The studio is up: $(STUDIO_URL) (workspace $(GMS_HOST_WORKSPACE))"

.PHONY: down
down: ## Stop the compose services (volumes stay)
	$(need_compose)
	$(COMPOSE) --profile comfyui down

.PHONY: logs
logs: ## Follow the compose services' logs
	$(need_compose)
	$(COMPOSE) logs -f

.PHONY: shell-lab
shell-lab: ## A shell in the lab container
	$(need_compose)
	$(COMPOSE) exec lab bash

.PHONY: shell-worker
shell-worker: ## A shell in the worker container
	$(need_compose)
	$(COMPOSE) exec worker bash

.PHONY: test-compose
test-compose: system-test install ## Prove make up for real: offline base images, both images, a take, down/up
	$(BIN)/python -m pytest tests/compose

.PHONY: clean
clean: ## Remove build outputs (not the venv, not the workspace)
	rm -rf dist build gms_lab/labextension labextension/lib labextension/tsconfig.tsbuildinfo
