"""GDC files query (filters, pagination) -> manifest; manifest validation errors."""

import json

import pandas as pd
import pytest

from pathfm.manifest import (
    ManifestError,
    check_file_name,
    read_manifest,
    validate_manifest,
    write_manifest,
)
from pathfm.sources.gdc import GDCClient, slide_filters
from pathfm.sources.gdc_manifest import CohortSpec, build_manifest, hits_to_manifest, subsample
from pathfm.sources.http import RetryPolicy

FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, timeout=10)


def _hit(i: int, project="TCGA-BRCA", strategy="Diagnostic Slide", name=None):
    patient = f"TCGA-{i % 90 + 10:02d}-{i:04d}"
    suffix = "DX1" if strategy == "Diagnostic Slide" else "TS1"
    code = "01Z-00" if strategy == "Diagnostic Slide" else "01A-01"
    name = name if name is not None else f"{patient}-{code}-{suffix}.{i:08x}-AAAA.svs"
    return {"file_name": name, "md5sum": f"{i:032x}", "file_size": 1000 + i, "data_format": "SVS",
            "data_type": "Slide Image", "access": "open", "experimental_strategy": strategy,
            "cases": [{"submitter_id": patient, "project": {"project_id": project},
                       "samples": [{"submitter_id": f"{patient}-11A"}, {"submitter_id": f"{patient}-01A"}]}]}


def _populate(fake, n=23):
    for i in range(n):
        project = ["TCGA-BRCA", "TCGA-LUAD", "TCGA-GBM"][i % 3]
        strategy = "Diagnostic Slide" if i % 4 else "Tissue Slide"
        fake.add_file(f"fid-{i:04d}", b"", _hit(i, project, strategy))


def test_filters_json_shape():
    f = slide_filters(["TCGA-BRCA", "TCGA-LUAD"], ["Diagnostic Slide", "Tissue Slide"])
    assert f["op"] == "and"
    fields = {c["content"]["field"]: c["content"]["value"] for c in f["content"]}
    assert all(c["op"] == "in" for c in f["content"])
    assert fields == {"cases.project.project_id": ["TCGA-BRCA", "TCGA-LUAD"],
                      "files.data_type": ["Slide Image"],
                      "files.experimental_strategy": ["Diagnostic Slide", "Tissue Slide"],
                      "files.data_format": ["SVS"], "files.access": ["open"]}
    json.dumps(f)  # plain JSON
    with pytest.raises(ValueError, match="experimental_strategy"):
        slide_filters(["TCGA-BRCA"], ["Diagnostic slide"])


def test_pagination_and_manifest(fake_gdc, tmp_path):
    _populate(fake_gdc)
    client = GDCClient(fake_gdc.url, policy=FAST, page_size=5)
    spec = CohortSpec("demo", ("TCGA-BRCA", "TCGA-LUAD"), ("Diagnostic Slide",))
    df = build_manifest(client, spec, slides_root=tmp_path / "slides")
    posts = [r for r in fake_gdc.requests if r["path"] == "/files"]
    expected = sum(1 for i in range(23) if i % 3 != 2 and i % 4)
    assert len(df) == expected and len(posts) == -(-expected // 5)
    assert [p["body"]["from"] for p in posts] == [0, 5, 10][: len(posts)]
    assert all(p["body"]["size"] == 5 and p["body"]["sort"] == "file_id:asc" for p in posts)
    assert posts[0]["body"]["filters"] == slide_filters(["TCGA-BRCA", "TCGA-LUAD"], ["Diagnostic Slide"])
    assert "md5sum" in posts[0]["body"]["fields"].split(",")
    row = df.iloc[0]
    assert set(df["slide_type"]) == {"FFPE"} and set(df["project"]) <= {"TCGA-BRCA", "TCGA-LUAD"}
    assert row["path"] == str(tmp_path / "slides" / "demo" / f"{row['slide_id']}.svs")
    assert row["file_name"] == row["slide_id"] + ".svs" and len(row["patient"]) == 12
    assert row["sample"] == row["patient"] + "-01A"  # the sample that matches the slide barcode
    out = tmp_path / "m.tsv"
    write_manifest(df, out)
    back = read_manifest(out)
    assert list(back.columns) == ["slide_id", "path", "md5", "size", "file_id", "file_name", "patient",
                                  "sample", "project", "slide_type", "mpp"]
    assert back["mpp"].isna().all()


def test_token_goes_in_header_of_queries(fake_gdc):
    _populate(fake_gdc, 3)
    client = GDCClient(fake_gdc.url, token="tok-123", policy=FAST)
    list(client.query("files", None, ["file_id"]))
    assert fake_gdc.requests[-1]["headers"]["X-Auth-Token"] == "tok-123"
    assert "tok-123" not in repr(client)


def test_ff_and_ffpe(fake_gdc):
    _populate(fake_gdc)
    client = GDCClient(fake_gdc.url, policy=FAST, page_size=100)
    spec = CohortSpec("all", ("TCGA-BRCA", "TCGA-LUAD", "TCGA-GBM"), ("Diagnostic Slide", "Tissue Slide"))
    df = build_manifest(client, spec)
    assert len(df) == 23 and (df["slide_type"] == "FF").sum() == 6


def test_subsample_deterministic_and_order_free():
    df = hits_to_manifest([_hit(i, ["TCGA-A", "TCGA-B"][i % 2].replace("TCGA-A", "TCGA-BRCA")) for i in range(40)], "c")
    a = subsample(df, 10, seed=7)
    b = subsample(df.sample(frac=1, random_state=1), 10, seed=7)
    assert a["slide_id"].tolist() == b["slide_id"].tolist()
    assert subsample(df, 10, seed=8)["slide_id"].tolist() != a["slide_id"].tolist()
    s = subsample(df, 10, seed=7, stratify="project")
    assert s["project"].value_counts().to_dict() == {"TCGA-BRCA": 5, "TCGA-B": 5}
    assert len(subsample(df, 100, seed=0)) == 40


@pytest.mark.parametrize("name", ["../evil.svs", "/etc/passwd", "a/b.svs", "..", "C:evil.svs", "~x.svs",
                                  "a\\b.svs", "x\x00.svs", ""])
def test_unsafe_names_rejected(name):
    with pytest.raises(ManifestError, match="unsafe file name"):
        check_file_name(name)
    with pytest.raises(ManifestError):
        hits_to_manifest([_hit(1, name=name)], "c")


def _manifest(**over):
    df = pd.DataFrame({"slide_id": ["a", "b"], "path": ["x/a.svs", "x/b.svs"], "md5": ["0" * 32, "1" * 32],
                       "file_name": ["a.svs", "b.svs"]})
    for k, v in over.items():
        df[k] = v
    return df


def test_manifest_rejections():
    validate_manifest(_manifest())
    with pytest.raises(ManifestError, match="duplicate slide_id"):
        validate_manifest(_manifest(slide_id=["a", "a"]))
    with pytest.raises(ManifestError, match="missing or malformed md5"):
        validate_manifest(_manifest(md5=["0" * 32, None]))
    with pytest.raises(ManifestError, match="missing or malformed md5"):
        validate_manifest(_manifest(md5=["0" * 32, "xyz"]))
    with pytest.raises(ManifestError, match="unsafe file name"):
        validate_manifest(_manifest(file_name=["a.svs", "../../b.svs"]))
    with pytest.raises(ManifestError, match="plain file stems"):
        validate_manifest(_manifest(slide_id=["a", "../b"]))


def test_gdc_retries_on_503(fake_gdc, monkeypatch):
    _populate(fake_gdc, 3)
    client = GDCClient(fake_gdc.url, policy=FAST)
    calls = {"n": 0}
    real = client.session.post

    def flaky(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            import requests
            raise requests.ConnectionError("dropped")
        return real(*a, **kw)

    monkeypatch.setattr(client.session, "post", flaky)
    assert len(list(client.query("files", None, ["file_id"]))) == 3 and calls["n"] == 2


def test_cli_writes_manifest(fake_gdc, tmp_path):
    from pathfm.commands import gdc_manifest as cli

    _populate(fake_gdc)
    cfg = tmp_path / "paper.yaml"
    cfg.write_text("cohorts:\n  demo:\n    projects: [TCGA-BRCA, TCGA-LUAD, TCGA-GBM]\n"
                   "    strategies: [Diagnostic Slide]\n    n_slides: 5\n    seed: 3\n")
    out = tmp_path / "demo.tsv"
    assert cli.main(["--cohort", "demo", "--config", str(cfg), "--api", fake_gdc.url,
                     "--slides-root", "results/slides", "--out", str(out)]) == 0
    df = read_manifest(out)
    assert len(df) == 5 and df["path"].str.startswith("results/slides/demo/").all()
