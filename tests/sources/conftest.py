import hashlib
import os

import pytest

from .fake_gdc import FakeGDC


def make_bytes(n: int, seed: int = 0) -> bytes:
    # Deterministic, incompressible-looking content: md5 chains, fast to make.
    out, block, i = bytearray(), hashlib.md5(str(seed).encode()).digest(), 0
    while len(out) < n:
        block = hashlib.md5(block + i.to_bytes(4, "little")).digest()
        out += block * 64
        i += 1
    return bytes(out[:n])


@pytest.fixture
def fake_gdc():
    with FakeGDC(lifetime=90) as fake:
        yield fake


@pytest.fixture
def slide_file(fake_gdc):
    content = make_bytes(600_000, seed=1)
    fid = "11111111-2222-3333-4444-555555555555"
    fake_gdc.add_file(fid, content, {"file_name": "TCGA-AA-0001-01Z-00-DX1.ABC.svs",
                                     "md5sum": hashlib.md5(content).hexdigest(), "file_size": len(content)})
    return fid, content


@pytest.fixture(autouse=True)
def _no_real_tokens(monkeypatch):
    # Tests never see a developer's real secrets.
    for var in ("GDC_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
