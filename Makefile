# pathfm entry points. Each target creates or reuses .venv through tools/bootstrap.sh.
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
CORES ?= 2

.PHONY: install demo test test-fast lint fmt bench coverage clean-demo

install:
	PATHFM_VENV=$(VENV) tools/bootstrap.sh

## Run the demo workflow end to end (default config, CPU, no network).
demo: install
	snakemake --profile profiles/local --cores $(CORES) all
	snakemake --profile profiles/local --report results/report.html all

## Run every test CI runs.
test: install
	pytest -n $(CORES) --durations=15

## Unit tests only (no Snakemake runs).
test-fast: install
	pytest -n $(CORES) -m "not workflow"

## Published cells of H0-mini and kaiko the paper config computes, and why the rest are not.
coverage: install
	pathfm coverage --config config/paper.yaml --json results/coverage.json

## Speed measurements (JSON under results/bench/); never part of the tests.
bench: install
	python benchmarks/bench_wsi.py --out results/bench/wsi.json
	python benchmarks/bench_download.py --out results/bench/download.json
	python benchmarks/bench_plism_metrics.py --timed-pairs 1 --out results/bench/plism_metrics.json
	python benchmarks/bench_online_patching.py results/bench/online_patching.json
	python benchmarks/bench_train.py results/bench/train.json
	python benchmarks/bench_distill.py results/bench/distill.json
	python benchmarks/bench_embed.py --out results/bench/embed.json
	python benchmarks/bench_paper_dag.py --out results/bench/paper_dag.json

lint: install
	snakemake --lint
	snakefmt --check Snakefile workflow
	ruff check src scripts tests benchmarks

fmt: install
	snakefmt Snakefile workflow

clean-demo:
	rm -rf results logs runtime .snakemake
