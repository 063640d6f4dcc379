# The README's two commands: `make demo` and `make test`. `make setup` is the shared, idempotent install step.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Extra pip arguments for torch alone, e.g. a CPU-only wheel index on a laptop without a GPU.
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: setup demo test clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || { tail -n 30 $(VENV)/install.log; exit 1; }
	@# torch first and alone, so that nothing later replaces a CPU build with the registry's CUDA build
	@$(BIN)/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
	  || $(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "torch==2.13.0" >> $(VENV)/install.log 2>&1 \
	  || { tail -n 30 $(VENV)/install.log; exit 1; }
	@$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]" >> $(VENV)/install.log 2>&1 \
	  || { tail -n 30 $(VENV)/install.log; exit 1; }
	@$(BIN)/python -c "import augreid.compat as c; c.import_torchvision(); import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available())"
	@touch $@

DEMO := outputs/demo

# Runs the steps that have landed, on the embedded synthetic default; later steps join as they land.
demo: setup
	@$(BIN)/python -m augreid.synthetic --config configs/demo.yaml --out $(DEMO)/data
	@$(BIN)/python -m augreid.pairs --annotations $(DEMO)/data/market-annotation-train.csv --out $(DEMO)/data/market-pairs-train.csv
	@for g in pona patn; do $(BIN)/python -m augreid.train_generator --generator $$g --data-root $(DEMO)/data \
	  --config configs/demo.yaml --out $(DEMO)/generators/$$g --resume || exit 1; done
	@for g in pona patn duplicate; do $(BIN)/python -m augreid.generate --portion 0.4 --generator $$g \
	  --data-root $(DEMO)/data --out $(DEMO)/augmented/$${g}_p0.4_s0 || exit 1; done
	@$(BIN)/python -m augreid.reid --data-root $(DEMO)/data --config configs/demo.yaml --out $(DEMO)/reid/original
	@$(BIN)/python -m augreid.reid --data-root $(DEMO)/augmented/pona_p0.4_s0 --config configs/demo.yaml \
	  --out $(DEMO)/reid/pona_p0.4
	@echo "demo: data set, demo generators, augmented sets at p = 0.4 and two re-ID baselines are under $(DEMO)/."
	@echo "demo: the Prefect flow over all generators and portions, with the Table VI report, is not implemented yet (issue 6)."

test: setup
	@$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) outputs/demo
