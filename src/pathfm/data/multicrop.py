"""DINO multi-crop augmentation for H&E tiles, in plain torch (no PIL, no torchvision).

Per image: 2 global crops + M local crops. Each crop is a random resized crop,
random horizontal/vertical flips and 90° rotations (tissue has no canonical
orientation), colour jitter kept mild in hue and saturation (H&E stain colours
carry meaning; strong hue shifts make implausible tissue), random grayscale,
Gaussian blur, optional solarisation (second global crop, as in DINO), then
normalisation with the model's mean/std (0.5/0.5 for kaiko models).

Every random draw comes from a ``torch.Generator`` passed in, so a crop set is a
pure function of (image, seed): reproducible in any DataLoader worker.

Shapes: an image is (3, H, W) uint8 or float in [0, 1] (or H×W×3 uint8 numpy).
``MultiCrop(...)(image, generator) -> list`` of 2 global (3, G, G) then M local
(3, L, L) crops; ``collate_multicrop(list_of_crop_lists) -> {"global":
(2·B, 3, G, G), "local": (M·B, 3, L, L)}`` in crop-major order (crop 0 of every
image, then crop 1, ...), the layout the SSL task expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MultiCropConfig:
    global_size: int = 224
    local_size: int = 96
    n_local: int = 8
    global_scale: tuple[float, float] = (0.32, 1.0)
    local_scale: tuple[float, float] = (0.05, 0.32)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    rotate90: bool = True
    jitter_p: float = 0.8
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.1
    hue: float = 0.03
    grayscale_p: float = 0.1
    blur_p: tuple[float, float, float] = (1.0, 0.1, 0.5)  # global 1, global 2, locals
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # in pixels at 224 px; scaled with size
    solarize_p: float = 0.2  # second global crop only
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)


def _uniform(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * torch.rand((), generator=g).item()


def _coin(g: torch.Generator, p: float) -> bool:
    return p > 0 and torch.rand((), generator=g).item() < p


def to_float_image(image) -> torch.Tensor:
    """(3, H, W) float32 in [0, 1] from uint8/float tensors or H×W×3 numpy arrays."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    return image.float()


def random_resized_crop(img: torch.Tensor, size: int, scale, ratio, g) -> torch.Tensor:
    """Crop a random area fraction ``scale`` and aspect ``ratio``, resize to size×size."""
    _, h, w = img.shape
    area = h * w
    for _ in range(10):
        target = area * _uniform(g, *scale)
        aspect = math.exp(_uniform(g, math.log(ratio[0]), math.log(ratio[1])))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(torch.randint(0, h - ch + 1, (), generator=g))
            left = int(torch.randint(0, w - cw + 1, (), generator=g))
            break
    else:  # fall back to the whole image, as torchvision does
        top, left, ch, cw = 0, 0, h, w
    crop = img[:, top:top + ch, left:left + cw].unsqueeze(0)
    return F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True).squeeze(0).clamp(0, 1)


_LUMA = torch.tensor([0.299, 0.587, 0.114])
_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_FROM_YIQ = np.linalg.inv(_TO_YIQ)


def _gray(img: torch.Tensor) -> torch.Tensor:
    # One tensordot, not five elementwise ops: crops are small, so op count is the cost.
    return torch.tensordot(_LUMA.to(img.dtype), img, dims=1).unsqueeze(0)


def _rotate_hue(img: torch.Tensor, fraction: float) -> torch.Tensor:
    """Hue rotation by ``fraction`` of a turn in YIQ space (a linear map, cheap)."""
    theta = 2 * math.pi * fraction
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    m = img.new_tensor(_FROM_YIQ @ rot @ _TO_YIQ)
    return torch.einsum("ij,jhw->ihw", m, img)


def color_jitter(img: torch.Tensor, cfg: MultiCropConfig, g) -> torch.Tensor:
    """Brightness, contrast, saturation, hue in a random order (as torchvision)."""
    ops = torch.randperm(4, generator=g).tolist()
    for op in ops:
        if op == 0 and cfg.brightness:
            img = img * _uniform(g, 1 - cfg.brightness, 1 + cfg.brightness)
        elif op == 1 and cfg.contrast:
            mean = _gray(img).mean()
            img = (img - mean) * _uniform(g, 1 - cfg.contrast, 1 + cfg.contrast) + mean
        elif op == 2 and cfg.saturation:
            gray = _gray(img)
            img = (img - gray) * _uniform(g, 1 - cfg.saturation, 1 + cfg.saturation) + gray
        elif op == 3 and cfg.hue:
            img = _rotate_hue(img, _uniform(g, -cfg.hue, cfg.hue))
        img = img.clamp(0, 1)
    return img


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian of radius ceil(3σ) (cut to fit tiny crops, renormalised),
    mirrored border without repeating the edge pixel (torch's ``reflect``).

    cv2 on the CPU: on a 64-px crop two grouped conv2d calls cost ~20× more.
    """
    radius = max(1, int(math.ceil(3 * sigma)))
    pad = min(radius, img.shape[-1] - 1, img.shape[-2] - 1)  # tiny crops: stay inside
    if img.device.type != "cpu":
        return _gaussian_blur_torch(img, sigma, radius, pad)
    hwc = np.ascontiguousarray(img.permute(1, 2, 0).numpy(), dtype=np.float32)
    out = cv2.GaussianBlur(hwc, (2 * pad + 1, 2 * pad + 1), sigmaX=sigma, sigmaY=sigma,
                           borderType=cv2.BORDER_REFLECT_101)
    return torch.from_numpy(out).permute(2, 0, 1).to(img.dtype)


def _gaussian_blur_torch(img: torch.Tensor, sigma: float, radius: int, pad: int) -> torch.Tensor:
    x = torch.arange(-pad, pad + 1, dtype=img.dtype, device=img.device)
    k = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    out = F.pad(img.unsqueeze(0), (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    out = F.conv2d(out, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return out.squeeze(0)


class MultiCrop:
    """Callable: (image, generator) -> [global_0, global_1, local_0, ..., local_{M-1}]."""

    def __init__(self, cfg: MultiCropConfig = MultiCropConfig()):
        self.cfg = cfg
        self._mean = torch.tensor(cfg.mean).view(3, 1, 1)
        self._std = torch.tensor(cfg.std).view(3, 1, 1)

    def _crop(self, img, size, scale, blur_p, solarize_p, g) -> torch.Tensor:
        c = self.cfg
        x = random_resized_crop(img, size, scale, c.ratio, g)
        if _coin(g, c.flip_p):
            x = x.flip(-1)
        if _coin(g, c.flip_p):
            x = x.flip(-2)
        if c.rotate90:
            x = torch.rot90(x, int(torch.randint(0, 4, (), generator=g)), dims=(-2, -1))
        if _coin(g, c.jitter_p):
            x = color_jitter(x, c, g)
        if _coin(g, c.grayscale_p):
            x = _gray(x).expand(3, -1, -1)
        if _coin(g, blur_p):
            # sigma range is defined at 224 px; scale it to this crop's size.
            x = gaussian_blur(x, _uniform(g, *c.blur_sigma) * size / 224)
        if _coin(g, solarize_p):
            x = torch.where(x >= 0.5, 1.0 - x, x)
        return ((x - self._mean) / self._std).contiguous()

    def __call__(self, image, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        c, g = self.cfg, generator
        img = to_float_image(image)
        crops = [
            self._crop(img, c.global_size, c.global_scale, c.blur_p[0], 0.0, g),
            self._crop(img, c.global_size, c.global_scale, c.blur_p[1], c.solarize_p, g),
        ]
        crops += [self._crop(img, c.local_size, c.local_scale, c.blur_p[2], 0.0, g)
                  for _ in range(c.n_local)]
        return crops


def collate_multicrop(samples: list[list[torch.Tensor]], n_global: int = 2) -> dict:
    """B crop lists -> {"global": (n_global·B, 3, G, G), "local": (M·B, 3, L, L)}, crop-major."""
    n_crops = len(samples[0])
    by_crop = [torch.stack([s[i] for s in samples]) for i in range(n_crops)]
    batch = {"global": torch.cat(by_crop[:n_global])}
    if n_crops > n_global:
        batch["local"] = torch.cat(by_crop[n_global:])
    return batch
