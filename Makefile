# The only commands the README needs. Each creates what it needs on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_SAM := .venv-sam
VENV_CHECKOV := .venv-checkov
VENV_BENCH := .venv-bench
VENV_MUTATION := .venv-mutation
VENV_LAMBDA_PYTHON := .venv-lambda-python
BIN := $(VENV)/bin
RUNTIME := .lambda-runtime
# The same for the tests under Lambda's Python: awslambdaric has a native part built for one Python version.
RUNTIME_LAMBDA_PYTHON := .lambda-runtime-lambda-python
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Lambda's Python (template.yaml: python3.13), if this machine has it: sam build ships .pyc made with it.
LAMBDA_PYTHON := 3.13
export LAMBDA_PYTHON_BIN ?= $(firstword $(foreach candidate,python$(LAMBDA_PYTHON) $(wildcard $(HOME)/.pyenv/versions/$(LAMBDA_PYTHON)*/bin/python$(LAMBDA_PYTHON)),$(shell $(candidate) -c '' >/dev/null 2>&1 && echo $(candidate))))

# `make demo` puts the output of its setup (venvs, sam build) here, so that its own story stays readable.
DEMO_SETUP_LOG := .aws-sam/demo-setup.log
SAM := $(VENV_SAM)/bin/sam
# `make deploy REGION=eu-west-1 STACK=name PARAMS='Key=value Key2=""' TAGS='team=platform'`: each given one
# overrides samconfig.toml's; without REGION, SAM uses samconfig.toml's region, then your AWS configuration's.
# Exported, so that the recipes pass them to SAM and to the check through the environment, quotes and all.
export REGION STACK PARAMS TAGS
SAM_OPTIONS := $${REGION:+--region "$$REGION"} $${STACK:+--stack-name "$$STACK"}
DEPLOY_OPTIONS := $(SAM_OPTIONS) $${PARAMS:+--parameter-overrides "$$PARAMS"} $${TAGS:+--tags "$$TAGS"}
# Credentials and a region, checked before anything is built or asked (devtools/deploy_check.py).
DEPLOY_CHECK := $(VENV_SAM)/bin/python -m devtools.deploy_check
# What `sam build` makes, and everything it is made from: a build runs again only when one of these changed.
BUILT := .aws-sam/build/template.yaml
BUILD_INPUTS := template.yaml samconfig.toml $(shell find src -type f -not -path '*/__pycache__/*' -not -name '*.pyc')
# The sample jobs `make demo` runs: rolling, blue/green, and one the function refuses.
DEMO_JOBS := events/two-ecr-sources.json events/blue-green.json events/unknown-container.json

.DEFAULT_GOAL := help
.PHONY: help demo bench mutation mutation-score local-pipeline test lint typecheck unit unit-lambda-python template build runtime deploy deploy-guided publish delete rollback clean

## help: list these targets with what each does
help:
	@awk '/^## [a-z-]+: / { sub(/^## /, ""); name = $$0; sub(/: .*/, "", name); text = $$0; sub(/^[a-z-]+: /, "", text); \
		printf "\n  make %-16s %s", name, text; next } \
		/^## / { sub(/^## /, ""); printf "\n  %-21s %s", "", $$0 }' $(MAKEFILE_LIST); echo

$(BIN)/.installed: requirements-dev.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# `python -m imagedefs` in .venv, with no install: a .pth file whose relative path leads from .venv's
# site-packages (.venv/lib/pythonX.Y/site-packages) to src/ of the checkout whose .venv it is. It names no
# absolute path, so a .venv shared between checkouts through symlinks gives each checkout its own src/.
$(BIN)/.src-on-path: $(BIN)/.installed
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "imagedefs-checkout-src.pth").write_text("../../../../src\n")'
	touch $@

$(VENV_CHECKOV)/.installed: requirements-checkov.txt
	test -x $(VENV_CHECKOV)/bin/python || $(PYTHON) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

$(VENV_BENCH)/.installed: requirements-bench.txt
	test -x $(VENV_BENCH)/bin/python || $(PYTHON) -m venv $(VENV_BENCH)
	$(VENV_BENCH)/bin/python -m pip install --quiet -r requirements-bench.txt
	touch $@

$(VENV_MUTATION)/.installed: requirements-mutation.txt requirements-dev.txt
	test -x $(VENV_MUTATION)/bin/python || $(PYTHON) -m venv $(VENV_MUTATION)
	$(VENV_MUTATION)/bin/python -m pip install --quiet -r requirements-mutation.txt
	touch $@

$(VENV_LAMBDA_PYTHON)/.installed: requirements-dev.txt
	test -x $(VENV_LAMBDA_PYTHON)/bin/python || $(LAMBDA_PYTHON_BIN) -m venv $(VENV_LAMBDA_PYTHON)
	$(VENV_LAMBDA_PYTHON)/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV_SAM)/.installed: requirements-sam.txt
	test -x $(VENV_SAM)/bin/python || $(PYTHON) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

## demo: run the packaged function on three sample jobs (imagedefinitions.json; blue/green taskdef.json and
## appspec.yaml; a container name the service lacks, refused) against local S3, ECS and CodePipeline
## (`make demo LOG=1` also prints each job's structured log and EMF metrics under that job)
demo: $(BIN)/.src-on-path
	@mkdir -p $(dir $(DEMO_SETUP_LOG))
	@if $(MAKE) --no-print-directory --question $(BUILT) runtime 2>/dev/null; then \
		echo "Set up already: the build is newer than template.yaml and src/ (output of the last setup: $(DEMO_SETUP_LOG))"; \
	else \
		echo "Setting up: virtual environments on first use, sam build, Lambda's runtime client (output: $(DEMO_SETUP_LOG))"; \
		$(MAKE) --no-print-directory $(BUILT) runtime > $(DEMO_SETUP_LOG) 2>&1 || { \
			tail -n 20 $(DEMO_SETUP_LOG); echo "make demo: the setup failed; its whole output is in $(DEMO_SETUP_LOG)"; exit 1; }; \
	fi
	@echo
	@$(BIN)/python -m devtools.demo $(DEMO_JOBS) $(if $(LOG),--show-log)

## bench: cold/warm job against a bare-boto3 floor, large-artifact cost, memory; then each MemorySize under
## Lambda's CPU share (needs root and cgroup v1), its cost, and docs/memory-sweep.png (figures: docs/performance.md).
## `make bench BASELINE=<commit>` also times that commit's cold job against this tree's, in the same run
bench: build runtime $(VENV_BENCH)/.installed
	BASELINE=$(BASELINE) $(BIN)/python -m devtools.bench
	$(VENV_BENCH)/bin/python devtools/bench_chart.py

## mutation: mutation testing of the core modules (mutmut; about 30 minutes on 2 cores; not part of `make test`),
## then the score per module. One module: `make mutation MUTANTS='imagedefs.config.*'`; survivors: `make mutation-score`
MUTATION_WORKERS ?= 2
# Examples per property-based test in each mutant's run (`make test` runs 60-80).
MUTATION_EXAMPLES ?= 15
mutation: $(VENV_MUTATION)/.installed
	IMAGEDEFS_TEST_EXAMPLES=$(MUTATION_EXAMPLES) nice -n 10 $(VENV_MUTATION)/bin/mutmut run --max-children $(MUTATION_WORKERS) $(MUTANTS)
	$(VENV_MUTATION)/bin/python -m devtools.mutation_score

## mutation-score: the last run's score per module and the mutants that survived (`mutmut show NAME` shows one)
mutation-score:
	$(VENV_MUTATION)/bin/python -m devtools.mutation_score --survivors

## local-pipeline: local S3 and CodePipeline on 127.0.0.1:4571/4572 for `sam local invoke` (needs Docker)
local-pipeline: $(BIN)/.installed
	$(BIN)/python -m devtools.local_pipeline

## test: lint, type-check, check the template and build, then run every test
test: $(BIN)/.src-on-path lint typecheck template unit unit-lambda-python

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

## template: sam validate --lint, cfn-lint, checkov (skips and reasons: docs/reliability.md) and sam build
template: build $(BIN)/.installed $(VENV_CHECKOV)/.installed
	$(BIN)/cfn-lint template.yaml examples/*.yaml
	$(VENV_CHECKOV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

## build: sam validate --lint and sam build, when template.yaml, samconfig.toml or a file under src/ changed
build: $(BUILT)

$(BUILT): $(BUILD_INPUTS) $(VENV_SAM)/.installed $(BIN)/.installed
	$(SAM) validate --lint
	$(SAM) build
	touch $@

unit: build runtime
	$(BIN)/pytest

# The tests where Python versions differ (zipfile, json, str), run again under Lambda's Python (about a minute).
LAMBDA_PYTHON_TESTS := tests/integration/test_hostile_inputs.py tests/integration/test_secrets.py \
	tests/integration/test_memory.py tests/integration/test_properties.py tests/unit/test_s3_artifacts.py \
	tests/unit/test_zip.py
unit-lambda-python: build runtime
ifeq ($(LAMBDA_PYTHON_BIN),)
	@echo "Skipped: no Python $(LAMBDA_PYTHON) (Lambda's runtime) on this machine for $(LAMBDA_PYTHON_TESTS)"
else
	$(MAKE) --no-print-directory $(VENV_LAMBDA_PYTHON)/.installed $(RUNTIME_LAMBDA_PYTHON)/.installed
	IMAGEDEFS_RUNTIME_DIR=$(RUNTIME_LAMBDA_PYTHON) $(VENV_LAMBDA_PYTHON)/bin/pytest $(LAMBDA_PYTHON_TESTS)
endif

## deploy: check credentials and region, build, deploy without a question (REGION=, STACK=, PARAMS=, TAGS=
## override samconfig.toml; CONFIRM=1 shows the change set and asks first). README, "Deploy"
deploy: $(VENV_SAM)/.installed
	@$(DEPLOY_CHECK) deploy
	@$(MAKE) --no-print-directory build
	$(SAM) deploy $(if $(CONFIRM),--confirm-changeset,--no-confirm-changeset) $(DEPLOY_OPTIONS)

## deploy-guided: the same, but SAM asks for every setting and can save the answers to samconfig.toml
deploy-guided: $(VENV_SAM)/.installed
	@$(DEPLOY_CHECK) deploy-guided --region-optional
	@$(MAKE) --no-print-directory build
	$(SAM) deploy --guided $(DEPLOY_OPTIONS)

## rollback: point the alias "live" back at the version before it, or at VERSION=N (README, "Roll back")
rollback: $(VENV_SAM)/.installed
	@$(DEPLOY_CHECK) rollback
	$(VENV_SAM)/bin/python -m devtools.rollback $(if $(VERSION),--version "$(VERSION)")

## publish: package to SAM's managed bucket and publish to the Serverless Application Repository (private)
publish: $(VENV_SAM)/.installed
	@$(DEPLOY_CHECK) publish --sam-command package
	@$(MAKE) --no-print-directory build
	$(SAM) package --resolve-s3 --output-template-file .aws-sam/packaged.yaml $${REGION:+--region "$$REGION"}
	$(SAM) publish --template .aws-sam/packaged.yaml $${REGION:+--region "$$REGION"}

## delete: delete the stack (`sam delete`; asks first). The log groups are kept: see the README
delete: $(VENV_SAM)/.installed
	@$(DEPLOY_CHECK) delete --sam-command delete
	$(SAM) delete $(SAM_OPTIONS)

## runtime: what Lambda's Python runtime provides (awslambdaric, boto3), for running the packaged function
runtime: $(RUNTIME)/.installed

$(RUNTIME)/.installed: requirements-runtime.txt $(BIN)/.installed
	rm -rf $(RUNTIME)
	$(BIN)/python -m pip install --quiet --target $(RUNTIME) -r requirements-runtime.txt
	touch $@

$(RUNTIME_LAMBDA_PYTHON)/.installed: requirements-runtime.txt $(VENV_LAMBDA_PYTHON)/.installed
	rm -rf $(RUNTIME_LAMBDA_PYTHON)
	$(VENV_LAMBDA_PYTHON)/bin/python -m pip install --quiet --target $(RUNTIME_LAMBDA_PYTHON) -r requirements-runtime.txt
	touch $@

## clean: remove the virtual environments, the build and the caches (the next command creates what it needs)
clean:
	rm -rf $(VENV) $(VENV_SAM) $(VENV_CHECKOV) $(VENV_BENCH) $(VENV_MUTATION) $(VENV_LAMBDA_PYTHON) $(RUNTIME) $(RUNTIME_LAMBDA_PYTHON) mutants .aws-sam .mypy_cache .pytest_cache .ruff_cache
