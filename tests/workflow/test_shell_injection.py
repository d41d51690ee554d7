"""Rule shell lines against hostile config strings, and jobs without the venv on PATH.

Every value a rule's shell line interpolates is quoted (``{x:q}``; lists element by
element), so a config string holding ``$(...)``, backticks or spaces reaches its script as
one literal argument and nothing of it runs in the shell. Jobs run ``pathfm`` under the
interpreter that runs Snakemake (the shell prefix: pathfm.workflow.shell_args), so the
venv's ``snakemake`` called by its path works with a PATH that lacks the venv.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import string
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from tests.dry_run import arg_value, has_args, shell_commands

from .conftest import BIN, REPO, local_env, snakemake

# Runs the shell would see through if a value reached it unquoted: each creates a file.
# (Not a URL requests can parse, so the real job fails at once rather than retrying.)
EVIL_API = "http://127.0.0.1:1$(touch INJECTED_API) `touch INJECTED_TICK` a  b;touch INJECTED_SEMI"
EVIL_NAME = "x $(touch INJECTED_NAME) `touch INJECTED_NAME2` 'q' \"dq\" ;touch INJECTED_NAME3"
LABEL_PROJECT = "TCGA-$(touch INJECTED_PROJECT) X"
TARGETS = ("results/labels/tp53.tsv",
           "results/bench/linear_probe-eva/bach/demo-vit-s8-random.json",
           "results/bench/slide_classification-eva/demo_grade/demo-vit-s8-random.json")


def _shell_strings():
    """(file, text) of every rule's shell command, read from workflow/rules/*.smk."""
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        lines = smk.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() != "shell:":
                continue
            body = []
            for nxt in lines[i + 1:]:
                if not re.match(r'\s+"', nxt):
                    break
                body.append(nxt.strip())
            assert body, f"{smk.name}:{i + 1}: a shell directive without a string literal"
            yield f"{smk.name}:{i + 1}", ast.literal_eval("(" + "\n".join(body) + ")")


def test_every_value_in_every_shell_line_is_quoted():
    found = list(_shell_strings())
    assert len(found) > 40
    for where, command in found:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(command)
                  if name is not None]
        assert fields, where
        unquoted = [name for name, spec in fields if not (spec or "").endswith("q")]
        assert not unquoted, f"{where}: unquoted {unquoted} in {command!r}"
        # Every step is a pathfm subcommand: the shell prefix makes that the project's own.
        programs = {step.strip().lstrip("(").split()[0]
                    for step in re.split(r"&&|\|\||;|\|", command)}
        assert programs <= {"pathfm", "{params.launcher:q}"}, (where, programs)


def _evil_workdir(workdir):
    """The demo config with hostile strings where the config takes free text."""
    overlay = {
        "gdc_api": EVIL_API,
        "labels": {"tp53": {"projects": ["TCGA-BRCA", LABEL_PROJECT]}},
        "patch_bench": {"linear_probe": {"overrides_name": EVIL_NAME}},
        "slide_bench": {"classification": {"overrides_name": EVIL_NAME}},
    }
    (workdir / "config" / "evil.yaml").write_text(yaml.safe_dump(overlay))
    return ("--configfile", "config/config.yaml", "config/evil.yaml")


def _injected(workdir):
    return sorted(p.name for p in workdir.rglob("INJECTED*"))


@pytest.mark.workflow
def test_hostile_config_strings_reach_commands_as_one_argument(workdir):
    result = snakemake(*_evil_workdir(workdir), "-n", "-p", "--cores", "1", *TARGETS,
                       cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    commands = shell_commands(result.stdout)
    (labels,) = commands["gdc_labels"]
    assert arg_value(labels, "--api") == EVIL_API
    assert shlex.quote(EVIL_API) in labels
    assert has_args(labels, "--projects", "TCGA-BRCA", LABEL_PROJECT, "--api")
    for rule in ("linear_probe", "slide_classification"):
        (command,) = commands[rule]
        assert arg_value(command, "--overrides-name") == EVIL_NAME, command
    # Every word of every printed command stands quoted as shlex.quote writes it:
    # nothing left for the shell to expand, split or run (the log's redirection aside).
    for jobs in commands.values():
        for command in jobs:
            words = shlex.split(command)
            assert words[-3] == ">" and words[-1] == "2>&1", command
            assert all(shlex.quote(w) in command for w in words if w not in (">", "2>&1")), command
    assert _injected(workdir) == []


RECORD_ARGV = """\
import json, os, sys
if os.environ.get("PATHFM_TEST_ARGV"):
    with open(os.environ["PATHFM_TEST_ARGV"], "a") as f:
        f.write(json.dumps(sys.argv) + "\\n")
"""


@pytest.mark.workflow
def test_hostile_api_url_runs_as_a_literal_argument(workdir, tmp_path):
    """The real job: its script gets the URL as one argument (and fails to reach it),
    and no part of the URL runs in the job's shell."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(RECORD_ARGV)
    record = tmp_path / "argv.jsonl"
    env = {**local_env(), "PATHFM_TEST_ARGV": str(record),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(hook),
                                                       os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
         *_evil_workdir(workdir), "--cores", "1", "results/labels/tp53.tsv"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0  # the URL leads nowhere
    assert _injected(workdir) == []
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    jobs = [argv for argv in runs if "gdc-labels" in argv]
    assert len(jobs) == 1, runs
    assert jobs[0][jobs[0].index("gdc-labels"):] == [
        "gdc-labels", "--label", "tp53", "--projects", "TCGA-BRCA", LABEL_PROJECT,
        "--api", EVIL_API, "--out", "results/labels/tp53.tsv"]


def test_shell_prefix_runs_pathfm_under_a_given_interpreter(tmp_path):
    """The prefix's ``pathfm`` function, with an interpreter path that needs quoting."""
    from snakemake.settings.types import DeploymentMethod

    from pathfm.workflow.shell_args import pathfm_command, rule_shell_prefix, shell_prefix

    odd = tmp_path / "a dir $(touch INJECTED) `touch INJECTED`"
    odd.mkdir()
    python = odd / "python"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    prefix = shell_prefix(pathfm_command(python=str(python)))
    # shell.prefix formats its text (doubled braces); what bash then runs:
    script = prefix.format() + "pathfm --help | head -1"
    env = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pathfm" in result.stdout
    assert not list(tmp_path.rglob("INJECTED"))
    assert prefix.startswith("set -euo pipefail; ")
    assert shell_prefix(["pathfm"]) == "set -euo pipefail; "
    assert shell_prefix(["pathfm"], "/bin/sh") == ""
    # --sdm conda: the rules' environment's own pathfm, first on the job's PATH.
    conda_run = SimpleNamespace(deployment_settings=SimpleNamespace(
        deployment_method={DeploymentMethod.CONDA}))
    assert rule_shell_prefix(conda_run, "/usr/bin/bash") == "set -euo pipefail; "
    plain_run = SimpleNamespace(deployment_settings=SimpleNamespace(deployment_method=set()))
    assert shlex.quote(sys.executable) in rule_shell_prefix(plain_run, "/usr/bin/bash")


@pytest.mark.workflow
def test_jobs_run_without_the_venv_on_path(workdir):
    """``/path/to/.venv/bin/snakemake`` with a PATH that lacks the venv: jobs still run
    the project's pathfm (no 'pathfm: command not found', no 'No module named pathfm')."""
    env = {**os.environ, "PATH": "/usr/bin:/bin", "SLURM_CONF": "/dev/null"}
    env.pop("VIRTUAL_ENV", None)
    target = "results/slides/demo/demo_000.svs"
    result = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "1",
         target], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    log = workdir / "logs" / "synth_slide" / "demo" / "demo_000.log"
    assert result.returncode == 0, (result.stderr[-3000:],
                                    log.read_text()[-2000:] if log.exists() else "")
    assert (workdir / target).stat().st_size > 0
