"""pathfm.workflow.tables: the table registry, and each table's rows, cells and inputs."""

import pytest

from pathfm.workflow import paths
from pathfm.workflow.plan import Plan
from pathfm.workflow.tables import (TABLE_KINDS, figure_targets, script_kind, target_files,
                                    _target_defaults)

from .conftest import ROOT, resolved

NOTHING = lambda path: False  # noqa: E731


def _tables(config, exists=NOTHING):
    return Plan(config, ROOT, exists=exists).tables


def test_registry_targets_and_files():
    assert set(figure_targets()) == {t for t, k in TABLE_KINDS.items() if k != "table"}
    assert target_files("kaiko_table1_linear_probe") == paths.table_files(
        "kaiko_table1_linear_probe")
    assert target_files("kaiko_fig1_init")[:2] == paths.figure_files("kaiko_fig1_init")
    assert script_kind("kaiko_fig1_init") == "sweep"
    assert script_kind("kaiko_fig6_unsupervised") == "unsupervised"


def test_a_target_left_out_gets_the_schema_defaults(demo_config):
    demo_config["tables"]["targets"].pop("kaiko_table1_linear_probe", None)
    tables = _tables(demo_config)
    entry = tables.config_of("kaiko_table1_linear_probe")
    assert entry == _target_defaults() and entry["cells"] == {} and entry["sweep"] is None
    entry["cells"]["x"] = "y"  # a copy: the defaults themselves stay untouched
    assert _target_defaults()["cells"] == {}
    assert all(v is None for v in tables.cells("kaiko_table1_linear_probe").values())


def test_rows_map_models_to_published_rows_then_add_the_rest(demo_config):
    tables = _tables(demo_config)
    target = "kaiko_table1_linear_probe"
    rows = tables.rows(target)
    ours = [r for r in rows if r["model"]]
    assert [r["model"] for r in ours] == tables.run_models(target)
    published = set(tables.published_rows(target))
    assert {r["published"] for r in rows if r["model"] is None} <= published
    assert len(rows) == len(ours) + len(published - {r["published"] for r in ours})


def test_unknown_published_row_names_the_table(demo_config):
    demo_config["tables"]["published_as"]["kaiko"] = {"demo-vit-s8": "No Such Row"}
    with pytest.raises(ValueError, match=r"kaiko_table1_linear_probe.*No Such Row"):
        _tables(demo_config).rows("kaiko_table1_linear_probe")


def test_cells_not_produced_are_marked_not_run(demo_config):
    target = "kaiko_table1_linear_probe"
    configured = demo_config["tables"]["targets"][target]["cells"]
    demo_config["patch_bench"]["linear_probe"]["tasks"] = ["crc"]
    cells = _tables(demo_config).cells(target)
    for col, ref in configured.items():
        if ref and ref.startswith("linear_probe-") and "/crc/" not in ref:
            assert cells[col] is None, col
        elif ref and "/crc/" in ref:
            assert cells[col] == ref
    # An existing result counts even when no rule of this configuration makes it.
    assert all(v == configured[k] for k, v in
               _tables(demo_config, exists=lambda p: True).cells(target).items() if configured[k])


def test_sweep_cells_only_on_ablation_tasks(demo_config):
    target = next(t for t, e in demo_config["tables"]["targets"].items()
                  if e.get("sweep") and TABLE_KINDS[t] == "table")
    tables = _tables(demo_config)
    for col, ref in tables.cells(target).items():
        if ref:
            assert ref.split("/")[1] in demo_config["ablation"]["tasks"], col
    rows = tables.rows(target)
    assert rows and all(r["model"] is None or "@" in r["model"] or r["model"] in
                        demo_config["tables"]["targets"][target]["fixed_rows"].values()
                        or r["model"] in demo_config["ablation"]["models"]
                        or r["model"] in demo_config["distill"]["runs"] for r in rows)


def test_spec_results_and_caption(demo_config):
    tables = _tables(demo_config)
    target = "kaiko_table1_linear_probe"
    spec = tables.spec(target)
    assert tables.spec(target) is spec  # built once per target
    assert set(spec) >= {"rows", "cells", "meta_columns", "average", "std", "metrics",
                         "contracts"}
    results = tables.results(target)
    refs = [r for r in spec["cells"].values() if r]
    assert len(results) == len({(r.split("/")[0], r.split("/")[1]) for r in refs}) * len(
        tables.run_models(target))
    assert tables.caption(target).endswith("Protocol: " + ", ".join(
        sorted({r.split("/")[0] for r in refs})) + ".")


def test_unsupervised_and_distillation_tables(demo_config):
    tables = _tables(demo_config)
    spec = tables.spec("kaiko_fig6_unsupervised")
    assert spec["models"] == tables.run_models("kaiko_fig6_unsupervised")
    assert all(paths.bench_result("unsupervised", t, m) in tables.results(
        "kaiko_fig6_unsupervised") for t in spec["tasks"] for m in spec["models"])
    dist = tables.spec("gpfm_fig8_expert_distillation")
    assert all(p is None or p.count("/") == 1 for p in dist["cells"].values())


def test_report_tables_and_targets(demo_config):
    tables = _tables(demo_config)
    report = tables.report_tables()
    assert report[:len(TABLE_KINDS)] == list(TABLE_KINDS)
    assert "h0mini_table3_plism" in report and tables.rank_target in report
    assert tables.report_caption("h0mini_table3_plism").startswith("H0-mini")
    assert paths.table_html("kaiko_table1_linear_probe") in tables.targets()


def test_paper_tables_resolve():
    tables = _tables(resolved("config/paper.yaml"))
    for target in TABLE_KINDS:
        tables.spec(target)
        assert tables.caption(target)
