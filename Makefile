# covbot — two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
COVBOT := $(BIN)/covbot
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
DEMO_DB := demo.db
DEMO_ENV := COVBOT_DATABASE_URL=sqlite:///$(DEMO_DB) COVBOT_OUTBOX_DIR=out/demo SLACK_BOT_TOKEN= SMTP_HOST= COVBOT_ENV_FILE=/dev/null
DEMO_ASOF := 2026-11-20

.PHONY: install install-dev demo lint test bench bench-quick clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)

install-dev: $(DEVSTAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB)
	rm -rf out/demo
	$(DEMO_ENV) $(COVBOT) import bot/demo/portfolio
	$(BIN)/python -m bot.demo.make_workbook --check
	$(DEMO_ENV) $(COVBOT) check --rules rules/ --as-of $(DEMO_ASOF)
	@echo "--- one of the alerts above, as it was sent to Slack (written to out/demo/slack/ without a token):"
	$(DEMO_ENV) $(COVBOT) outbox show --facility GPUC-006 --transport slack
	$(DEMO_ENV) $(COVBOT) explain GPUC-006 --rules rules/ --as-of $(DEMO_ASOF)
	$(DEMO_ENV) $(COVBOT) stress --rules rules/ --as-of $(DEMO_ASOF) --scenario correlation-convergence
	@echo "--- the collateral mirage: what foreclosing every facility in breach under correlation-convergence would recover"
	$(DEMO_ENV) $(COVBOT) fire-sale --rules rules/ --as-of $(DEMO_ASOF) --scenario correlation-convergence
	$(DEMO_ENV) $(COVBOT) digest --rules rules/ --as-of $(DEMO_ASOF) --format html --output out/demo/digest.html
	@echo "--- a rule edit planned before it goes live: max-ltv tightened from 70 % to 60 % (exit 3: statuses move)"
	rm -rf out/demo/rules-tightened && mkdir -p out/demo/rules-tightened && cp rules/*.yaml out/demo/rules-tightened/
	cp rules/examples/ltv-tightened.yaml out/demo/rules-tightened/ltv.yaml
	$(DEMO_ENV) $(COVBOT) rules plan out/demo/rules-tightened --current rules/ --as-of $(DEMO_ASOF) || test $$? -eq 3

lint: $(DEVSTAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy

test: $(DEVSTAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(DEVSTAMP)
	$(BIN)/python -m bench.run

bench-quick: $(DEVSTAMP)
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) $(DEMO_DB) out build *.egg-info
