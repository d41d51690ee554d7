import numpy as np
import pytest
import torch

from pathfm.bench.seg_decoder import ConvDecoder, dice_loss, tokens_to_map
from pathfm.bench.seg_metrics import DiceAccumulator, dice_scores
from pathfm.bench.segmentation import SegProtocol, run_segmentation, sliding_windows, window_origins


def test_dice_on_hand_made_masks():
    truth = np.array([[0, 1, 1], [0, 2, 2], [0, 0, 2]])
    pred = np.array([[0, 1, 0], [1, 2, 2], [0, 0, 0]])
    # class 1: TP 1, FP 1, FN 1 -> 2/4; class 2: TP 2, FN 1 -> 4/5; class 3 absent -> NaN.
    out = dice_scores(pred, truth, 4, ["bg", "a", "b", "c"])
    assert out["dice_a"] == pytest.approx(0.5) and out["dice_b"] == pytest.approx(0.8)
    assert np.isnan(out["dice_c"]) and out["dice_mean"] == pytest.approx(0.65)
    acc = DiceAccumulator(4)
    acc.update(pred[:1], truth[:1])
    acc.update(pred[1:], truth[1:])
    assert acc.mean() == pytest.approx(0.65)


def test_windows_cover_the_image():
    assert window_origins(10, 4, 4) == [0, 4, 6]
    img = np.zeros((10, 12, 3), np.uint8)
    imgs, masks = sliding_windows(img, np.zeros((10, 12), int), 4, 4)
    assert imgs.shape == (9, 4, 4, 3) and masks.shape == (9, 4, 4)
    with pytest.raises(ValueError, match="smaller"):
        window_origins(3, 4, 4)


def test_decoder_shapes_and_perfect_dice_loss():
    feats = tokens_to_map(torch.randn(2, 16, 8), (4, 4))
    assert feats.shape == (2, 8, 4, 4)
    out = ConvDecoder(8, 3)(feats, torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 3, 32, 32)
    target = torch.randint(0, 3, (2, 32, 32))
    perfect = 50.0 * torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float()
    assert float(dice_loss(perfect, target)) < 1e-3


def test_decoder_learns_from_the_image_branch():
    # Class is a pixel-level colour threshold: only the image branch can resolve it.
    rng = np.random.default_rng(0)
    imgs = torch.from_numpy(rng.normal(size=(24, 3, 16, 16)).astype(np.float32))
    masks = (imgs[:, 0] > 0.3).long().numpy()
    feats = torch.zeros(24, 4, 4, 4)
    split = lambda a, b: (feats[a:b], imgs[a:b], masks[a:b])  # noqa: E731
    protocol = SegProtocol(max_steps=150, batch_size=8, eval_every=50, patience=3)
    out = run_segmentation(split(0, 16), split(16, 20), split(20, 24), ["bg", "fg"], protocol, [0])
    assert out["runs"][0]["dice_fg"] > 0.8
