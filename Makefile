# The two commands of the README: `make up` (install + run the platform), `make test` (install + run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# checkov pins boto3 and packaging versions the project cannot share: it lives in its own venv.
CHECKOV_VERSION := 3.3.30
CHECKOV := .venv-checkov/bin/checkov

.PHONY: up test install bench checkov docker-constraints

# Installed with the images' pins (docker/constraints.txt): tests run on exactly what ships.
# Two stamps: `make up` installs the runtime distribution only (no test tools); `make test` adds the test
# extras on top, so neither command reinstalls what the other already installed.
INSTALLED := $(BIN)/.installed
TEST_INSTALLED := $(BIN)/.installed-test
PIP_INSTALL := $(BIN)/python -m pip install --progress-bar on --constraint docker/constraints.txt

# pip's own output (each package collected, downloads with a progress bar) shows the install moving; its
# last step, "Installing collected packages", prints nothing until it is done, hence the note before it.
$(INSTALLED): pyproject.toml docker/constraints.txt
	@echo "Installing Hokusai and its runtime dependencies into $(VENV) (the first time takes a few minutes)."
	@echo "pip lists each package it collects; its last step, 'Installing collected packages', is silent"
	@echo "for a minute or two while it unpacks them: it is working."
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e .
	@echo "Installed into $(VENV)."
	touch $@

# The test tools (pytest, moto, Playwright, mypy, schemathesis, eth-tester, ...), on top of the runtime.
$(TEST_INSTALLED): $(INSTALLED)
	@echo "Adding the test tools ('.[test]') to $(VENV); pip's 'Installing collected packages' is silent a while."
	$(PIP_INSTALL) -e '.[test]'
	touch $@

# The contract tests' Solidity compiler (npm solc, its bundled soljson.js) and OpenZeppelin, exactly as locked.
CONTRACT_DEPS := tests/contracts/node_modules/.package-lock.json
$(CONTRACT_DEPS): tests/contracts/package-lock.json
	npm ci --prefix tests/contracts --ignore-scripts --no-audit --no-fund

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)

# The runtime install alone (what `make up` runs before it starts the platform).
install: $(INSTALLED)

up: $(INSTALLED)
	$(BIN)/hokusai up

# Two pytest processes side by side: the container tests (image builds, mostly waiting on downloads and
# the disk) beside everything else; the container half's output follows, and either failing fails the target.
test: $(TEST_INSTALLED) $(CHECKOV) $(CONTRACT_DEPS)
	@$(BIN)/python -m pytest -m containers -p no:cacheprovider > .pytest-containers.log 2>&1 & containers=$$!; \
	HOKUSAI_CHECKOV=$(abspath $(CHECKOV)) $(BIN)/python -m pytest -m "not containers"; rest=$$?; \
	wait $$containers; images=$$?; echo "---- pytest -m containers ----"; cat .pytest-containers.log; \
	exit $$(( rest || images ))

# checkov on the Terraform, the Dockerfiles and the workflow; accepted findings: infrastructure/checkov-skips.yaml.
checkov: $(TEST_INSTALLED) $(CHECKOV)
	HOKUSAI_CHECKOV=$(abspath $(CHECKOV)) $(BIN)/python -m pytest -q -s tests/infra/test_static_checks.py -k checkov

# Pin both images to the versions in this virtualenv (the ones the tests ran with).
docker-constraints: $(TEST_INSTALLED)
	{ echo "# Exact versions of every Python package both images install (the versions the test suite ran with)."; \
	  echo "# Regenerate with 'make docker-constraints'. Test-only packages listed here are harmless: constraints only pin."; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > docker/constraints.txt

bench: $(TEST_INSTALLED)
	$(BIN)/python benchmarks/startup.py
