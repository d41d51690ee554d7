import pandas as pd

from pathfm.sources.preflight import check_disk, check_hub_access, format_table, planned_bytes

from .fake_hub import FakeHub


def test_checks_and_table(tmp_path, capsys):
    with FakeHub(repos={"org/m": {"w.bin": b"abc"}}, gated={"org/g": "t"}) as hub:
        hub.repos["org/g"] = {"w.bin": b"abc"}
        ok = check_hub_access("m", "org/m", "w.bin", endpoint=hub.url)
        bad = check_hub_access("g", "org/g", "w.bin", endpoint=hub.url)
        assert ok.ok and not bad.ok and "HF_TOKEN" in bad.fix
        m = tmp_path / "m.tsv"
        pd.DataFrame({"slide_id": ["a", "b"], "path": [str(tmp_path / "a.svs"), str(m)], "md5": ["0" * 32] * 2,
                      "size": [10**9, 5]}).to_csv(m, sep="\t", index=False)
        assert planned_bytes([m]) == 10**9  # b's path exists: not planned
        assert not check_disk(tmp_path, 10**18).ok
        from pathfm.commands import preflight as cli

        rc = cli.main(["--model", "m=org/m:w.bin", "--model", "g=org/g:w.bin", "--endpoint", hub.url,
                       "--manifest", str(m), "--disk-path", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "hub: g" in out and "FIX" in out and "pass" in out and "openslide" in out
    assert format_table([ok]).splitlines()[0].startswith("check")
