"""Weights from a loopback hub (HF_ENDPOINT), from a local path, and the errors in between."""

import socket

import pytest

from pathfm.sources.hub import WeightsUnavailable, fetch_weights

from .fake_hub import FakeHub

WEIGHTS = b"\x00fake-safetensors-bytes" * 100


@pytest.fixture
def hub():
    with FakeHub(repos={"org/open": {"model.safetensors": WEIGHTS},
                        "org/gated": {"pytorch_model.bin": WEIGHTS}},
                 gated={"org/gated": "hf_good"}) as h:
        yield h


def test_open_repo_via_endpoint(hub, tmp_path):
    path = fetch_weights("m", "org/open", "model.safetensors", endpoint=hub.url, cache_dir=tmp_path / "c")
    assert path.read_bytes() == WEIGHTS
    assert {r["method"] for r in hub.requests} >= {"HEAD", "GET"}


def test_hf_endpoint_env_and_out_dir(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    path = fetch_weights("m", "org/open", "model.safetensors", out_dir=tmp_path / "w", cache_dir=tmp_path / "c")
    assert path == tmp_path / "w" / "model.safetensors" and path.read_bytes() == WEIGHTS


def test_gated_uses_hf_token(hub, tmp_path, monkeypatch, caplog):
    with pytest.raises(WeightsUnavailable) as err:
        fetch_weights("h-optimus-0", "org/gated", "pytorch_model.bin", endpoint=hub.url, cache_dir=tmp_path / "c")
    msg = str(err.value)
    assert "'h-optimus-0'" in msg and "org/gated" in msg and "HF_TOKEN" in msg and "gated" in msg
    monkeypatch.setenv("HF_TOKEN", "hf_good")
    path = fetch_weights("h-optimus-0", "org/gated", "pytorch_model.bin", endpoint=hub.url, cache_dir=tmp_path / "c")
    assert path.read_bytes() == WEIGHTS
    assert hub.requests[-1]["headers"]["authorization"] == "Bearer hf_good"
    assert "hf_good" not in caplog.text


def test_wrong_token_and_missing_repo(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_bad")
    with pytest.raises(WeightsUnavailable, match="has no access"):
        fetch_weights("x", "org/gated", "pytorch_model.bin", endpoint=hub.url, cache_dir=tmp_path / "c")
    with pytest.raises(WeightsUnavailable, match="not found"):
        fetch_weights("x", "org/none", "a.bin", endpoint=hub.url, cache_dir=tmp_path / "c")


def test_offline_names_model_and_variable(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WeightsUnavailable) as err:
        fetch_weights("uni", "MahmoodLab/UNI", "pytorch_model.bin", endpoint=f"http://127.0.0.1:{port}",
                      cache_dir=tmp_path / "c", offline=True)
    assert "'uni'" in str(err.value) and "MahmoodLab/UNI" in str(err.value) and "HF_TOKEN" in str(err.value)


def test_local_path(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(WEIGHTS)
    assert fetch_weights("m", "org/x", None, f) == f
    assert fetch_weights("m", "org/x", "w.safetensors", tmp_path) == f
    with pytest.raises(WeightsUnavailable, match="local_path .* does not exist"):
        fetch_weights("m", "org/x", None, tmp_path / "missing")


def test_cli(hub, tmp_path):
    from pathfm.commands import fetch_weights as cli

    out = tmp_path / "w"
    rc = cli.main(["--model", "m", "--hub-id", "org/open", "--filename", "model.safetensors",
                   "--endpoint", hub.url, "--out-dir", str(out), "--record", str(tmp_path / "rec.json")])
    assert rc == 0 and (out / "model.safetensors").read_bytes() == WEIGHTS
    import json
    rec = json.loads((tmp_path / "rec.json").read_text())
    assert rec["model"] == "m" and len(rec["sha256"]) == 64
    assert cli.main(["--model", "m", "--hub-id", "org/gated", "--filename", "pytorch_model.bin",
                     "--endpoint", hub.url, "--out-dir", str(out)]) == 2
