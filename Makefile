# genlab — every target sets up .venv first when it is missing or stale.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOPIC  ?= 01
SUBMISSIONS ?= submitted

.PHONY: setup upgrade test test-smoke test-under-load test-shuffled lint lab slides hub demos site release check grade bench clean

setup: $(STAMP)

# the exact versions of constraints.txt (docs/environment.md)
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

## newest versions pyproject.toml allows, installed into .venv and frozen into constraints.txt
## (its header kept); then run `make test` and commit constraints.txt (docs/environment.md)
upgrade:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	grep '^#' constraints.txt | grep -v '^# frozen on' > constraints.txt.new
	$(BIN)/python -c 'import platform as p; print(f"# frozen on Python {p.python_version()} ({p.system()} {p.machine()})")' >> constraints.txt.new
	$(BIN)/python -m pip freeze --exclude-editable >> constraints.txt.new
	mv constraints.txt.new constraints.txt
	@touch $(STAMP)
	@echo "constraints.txt rewritten (git diff constraints.txt); now run: make test"

PYTEST := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 2 --dist worksteal --durations=25
RUNS   ?= 3
SEED   ?=

## the whole test suite (library, notebooks, release sync, grading validity), 2 workers
test: setup
	$(PYTEST)

## every lecture and solution in the gpu profile under smoke (GENLAB_SMOKE=1) on the CPU: the GPU
## configuration's sizes with its loops cut short (about 9 CPU-minutes; not part of `make test`)
test-smoke: setup
	GENLAB_SMOKE_TESTS=1 $(PYTEST) tests/test_notebooks.py -k smoke

## the whole suite RUNS times in a row (default 3) while stress-ng keeps every core busy
## (Debian: stress-ng); stops at the first failing run
test-under-load: setup
	@command -v stress-ng >/dev/null || { echo "test-under-load needs stress-ng (apt-get install stress-ng)"; exit 2; }
	@stress-ng --cpu 0 --timeout 6h --quiet & hog=$$!; trap "kill $$hog 2>/dev/null" EXIT; \
	for run in $$(seq $(RUNS)); do \
	  echo "== run $$run of $(RUNS), beside stress-ng --cpu 0 (every core) =="; \
	  $(PYTEST) || exit $$?; \
	done

## the whole suite once in a shuffled order (pytest-randomly; the seed is printed at the top,
## `make test-shuffled SEED=<n>` repeats an order)
test-shuffled: setup
	$(PYTEST) -p randomly $(if $(SEED),--randomly-seed=$(SEED))

## ruff over genlab/, tests/, bench/, autograder/, lectures/, solutions/, assignments/, deploy/ and site/ with the
## rules in pyproject.toml ([tool.ruff]); `make test` runs the same check (tests/test_lint.py)
lint: setup
	$(BIN)/ruff check genlab tests bench autograder lectures solutions assignments deploy site

## JupyterLab on the course (students open assignments/, lecturers lectures/, instructors
## Nbgrader > Formgrader, which reads autograder/nbgrader_config.py through JUPYTER_CONFIG_PATH)
lab: setup
	mkdir -p build/exchange
	PATH="$(CURDIR)/$(BIN):$$PATH" JUPYTER_CONFIG_PATH="$(CURDIR)/autograder" $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)"

## JupyterLab for lecturing: each lecture opens as a RISE slideshow (the notebook toolbar's RISE button),
## whose widgets are live, driven by the kernel (jupyterlab_widgets is held below 3.0.11 in pyproject.toml:
## the newer widget manager needs @jupyterlab/console, which jupyterlab-rise 0.43's page lacks)
slides: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" lectures

## a JupyterHub for the course on this machine, demo users: one instructor and STUDENTS students
## with random passwords (printed); run as root; deploy/jupyterhub/README.md
STUDENTS ?= 3
HUB_PORT ?= 8000
hub: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python deploy/jupyterhub/hub.py demo --students $(STUDENTS) --port $(HUB_PORT)

## execute every lecture in this machine's profile; HTML with figures in build/lectures/ that works offline
## (sliders carry their precomputed frames, nothing loads from a CDN: genlab/demos.py)
demos: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/genlab demos --out build/lectures

## the course site in build/site/ (index.html): the topics' index and every lecture executed in PROFILE
## (default: this machine's), readable offline; executions are cached per profile in build/site-cache/,
## so a rebuild after a text edit runs no kernel. One lecture or a few: make site TOPICS="01 02"
PROFILE ?=
TOPICS  ?=
site: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/genlab site $(TOPICS) $(if $(PROFILE),--profile $(PROFILE)) --out build/site

## regenerate assignments/ from solutions/
release: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/genlab release

## grade the solution, the blank release and the mutants of every topic
check: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/genlab check

## autograde a class: make grade SUBMISSIONS=path/to/submitted TOPIC=01
grade: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/genlab grade "$(SUBMISSIONS)" --assignment $(TOPIC)

## timings: loaders, metrics, zoo, notebooks and grading, printed as tables; then topic 09's diffusion
## model against diffusers' at the same budget (BENCH_DIFFUSION_S seconds of training each; installs
## the bench extra, diffusers, at constraints.txt's version)
BENCH_DIFFUSION_S ?= 240
bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/metrics.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/diffusion.py --budget-s $(BENCH_DIFFUSION_S)

clean:
	rm -rf build .pytest_cache
