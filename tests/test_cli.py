"""The ``pathfm`` entry point: one subcommand per module of pathfm.commands, scripts/ as aliases."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from pathfm import commands
from pathfm.cli import main, subcommands

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(info.name for info in pkgutil.iter_modules(commands.__path__))


def first_doc_line(module: str) -> str:
    source = Path(commands.__path__[0], f"{module}.py").read_text(encoding="utf-8")
    return ast.get_docstring(ast.parse(source)).strip().splitlines()[0]


def test_help_lists_every_command_module_with_its_summary(capsys):
    assert len(MODULES) >= 40 and "train_ssl" in MODULES and "launch" in MODULES
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pathfm <subcommand>")
    listed = {line.split()[0]: line for line in out.split("subcommands:\n", 1)[1].splitlines()}
    assert sorted(listed) == sorted(m.replace("_", "-") for m in MODULES) == subcommands()
    for module in MODULES:
        assert listed[module.replace("_", "-")].endswith(first_doc_line(module)), module


def test_no_subcommand_prints_the_list_and_fails(capsys):
    assert main([]) == 2
    assert "train-ssl" in capsys.readouterr().err


def test_unknown_subcommand_exits_2_naming_it_and_the_valid_ones(capsys):
    assert main(["trian-ssl", "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert "unknown subcommand 'trian-ssl'" in err
    assert "train-ssl" in err and "build-demo-dataset" in err and "embed" in err


def test_module_names_are_not_subcommands(capsys):
    assert main(["train_ssl"]) == 2  # the subcommand is spelled with '-'
    assert "unknown subcommand 'train_ssl'" in capsys.readouterr().err


def test_subcommand_help_reaches_the_commands_parser(capsys):
    argv0 = sys.argv[0]
    with pytest.raises(SystemExit) as exit_:
        main(["mask", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pathfm mask ")
    assert "--slide-id" in out and "Tissue mask of one slide" in out
    assert sys.argv[0] == argv0  # restored


def test_arguments_after_the_subcommand_reach_main_unchanged(capsys):
    argv = ["launch", "--gpus", "0", "--print", "--", "job.py", "--a", "b c", "--", "-x"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == f"{sys.executable} job.py --a 'b c' -- -x"


def test_help_imports_no_command_module():
    code = ("import sys; from pathfm.cli import main; main(['--help']); "
            "loaded = [m for m in sys.modules if m.startswith('pathfm.commands.') "
            "or m in ('torch', 'numpy', 'pandas')]; print('LOADED', loaded, file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "LOADED []" in res.stderr


def test_python_dash_m_pathfm():
    res = subprocess.run([sys.executable, "-m", "pathfm", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "train-ssl" in res.stdout
    res = subprocess.run([sys.executable, "-m", "pathfm", "nope"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "unknown subcommand 'nope'" in res.stderr


def test_the_installed_console_script():
    exe = Path(sys.executable).parent / "pathfm"
    if not exe.exists():
        pytest.skip(f"no {exe}: pathfm is not installed in this environment (make install)")
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "train-ssl" in res.stdout


def test_every_script_is_an_alias_of_its_command():
    scripts = sorted(p.stem for p in (REPO / "scripts").glob("*.py"))
    assert scripts == MODULES
    for name in scripts:
        path = REPO / "scripts" / f"{name}.py"
        alias = runpy.run_path(str(path), run_name=f"alias_{name}")  # not "__main__": no run
        assert alias["main"] is importlib.import_module(f"pathfm.commands.{name}").main, name
        assert f"pathfm {name.replace('_', '-')}" in alias["__doc__"]
        assert len(path.read_text().splitlines()) <= 10, f"{path} should stay a thin alias"


def test_an_alias_runs_as_a_script():
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "synth_manifest.py"), "--bogus"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "usage: synth_manifest.py" in res.stderr
