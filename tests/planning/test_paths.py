"""pathfm.workflow.paths (the stage contract) and shell_args."""

import re

from pathfm.workflow import paths
from pathfm.workflow.shell_args import as_json, wildcard_choice


def test_placeholders_pass_through_so_rules_can_declare_patterns():
    assert paths.slide("{cohort}", "{slide_id}") == "results/slides/{cohort}/{slide_id}.svs"
    assert paths.shard_marker("tiles", "{cohort}", "{shard}", "{tiling}") == (
        "results/tiles/{cohort}/{tiling}/shards/{shard}.shard.json")
    assert paths.shard_marker("masks", "c", 7) == "results/masks/c/shards/00007.shard.json"
    assert paths.slide_dataset_embedding("m", "camelyon16", 3) == (
        "results/embeddings/m/slide_datasets/camelyon16/shard00003.zarr")


def test_bench_result_round_trip():
    path = paths.bench_result("linear_probe-eva", "crc", "model-a")
    assert path == "results/bench/linear_probe-eva/crc/model-a.json"
    assert paths.parse_bench_result(path) == ("linear_probe-eva", "crc", "model-a")
    assert paths.parse_bench_result("results/models/m/weights.safetensors") is None
    assert paths.parse_bench_result("results/bench/a/b/c/d.json") is None


def test_table_and_figure_files():
    assert paths.table_files("t") == ["results/tables/t.csv", "results/tables/t.md",
                                      "results/tables/t.tex"]
    assert paths.figure_files("t") == ["results/figures/t.png", "results/figures/t.svg"]


def test_wildcard_choice_matches_exactly_the_names():
    pattern = re.compile(f"^(?:{wildcard_choice(['a.b', 'c'])})$")
    assert pattern.match("a.b") and pattern.match("c") and not pattern.match("axb")
    assert not re.fullmatch(wildcard_choice([]), "") and not re.fullmatch(wildcard_choice([]), "x")


def test_as_json_is_stable():
    assert as_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
