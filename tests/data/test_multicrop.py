import math

import numpy as np
import pytest
import torch

from pathfm.data.multicrop import (MultiCrop, MultiCropConfig, _gaussian_blur_torch,
                                  collate_multicrop, gaussian_blur)

CFG = MultiCropConfig(global_size=48, local_size=24, n_local=3)


def _image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(80, 96, 3), dtype=np.uint8)  # H×W×3 like a tile


def test_crop_count_and_sizes():
    crops = MultiCrop(CFG)(_image(), torch.Generator().manual_seed(0))
    assert len(crops) == 2 + 3
    assert all(c.shape == (3, 48, 48) for c in crops[:2])
    assert all(c.shape == (3, 24, 24) for c in crops[2:])
    assert all(torch.isfinite(c).all() for c in crops)
    assert max(c.abs().max() for c in crops) <= 1.0 + 1e-6  # mean = std = 0.5 -> [-1, 1]


def test_deterministic_under_seed():
    mc = MultiCrop(CFG)
    a = mc(_image(), torch.Generator().manual_seed(3))
    b = mc(_image(), torch.Generator().manual_seed(3))
    c = mc(_image(), torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_collate_is_crop_major():
    samples = [[torch.full((3, 4, 4), float(10 * i + j)) for j in range(4)] for i in range(3)]
    batch = collate_multicrop(samples, n_global=2)
    assert batch["global"].shape == (6, 3, 4, 4) and batch["local"].shape == (6, 3, 4, 4)
    # crop 0 of images 0,1,2 then crop 1 of images 0,1,2
    assert batch["global"][:, 0, 0, 0].tolist() == [0, 10, 20, 1, 11, 21]
    assert batch["local"][:, 0, 0, 0].tolist() == [2, 12, 22, 3, 13, 23]


@pytest.mark.parametrize("size,sigma", [(64, 0.3), (64, 1.7), (32, 2.0), (4, 2.0)])
def test_cv2_blur_matches_the_torch_convolution(size, sigma):
    img = torch.rand(3, size, size, generator=torch.Generator().manual_seed(size))
    radius = math.ceil(3 * sigma)
    expected = _gaussian_blur_torch(img, sigma, radius, min(radius, size - 1))
    out = gaussian_blur(img, sigma)
    assert out.shape == img.shape and out.dtype == img.dtype
    assert torch.allclose(out, expected, atol=1e-5)
    assert not torch.allclose(out, img, atol=1e-3)  # it did blur
