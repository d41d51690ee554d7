"""What a scanner does to the transmitted light: illumination, colour response, blur, noise."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pathfm.wsi.synth.noise import value_noise


@dataclass(frozen=True)
class ScannerParams:
    """A scanner's optics and sensor.

    Attributes:
        illumination: intensity (0-255) of bare glass at the centre of the field;
            TCGA backgrounds sit around 235-245.
        illumination_gradient: relative amplitude of the smooth illumination
            variation across the slide (uneven lamp, stitching).
        gain: per-channel (R, G, B) multiplier: the sensor's colour response.
        gamma: tone curve exponent applied to intensity / 255 (1 = linear).
        blur_um: Gaussian blur sigma in µm (focus and optics), 0 for none.
        noise_std: standard deviation of additive sensor noise, in grey levels.
    """

    illumination: float = 241.0
    illumination_gradient: float = 0.012
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    blur_um: float = 0.2
    noise_std: float = 1.5

    def __post_init__(self) -> None:
        if not 0 < self.illumination <= 255:
            raise ValueError(f"scanner illumination must be in (0, 255], got {self.illumination}")
        if len(self.gain) != 3 or any(g <= 0 for g in self.gain):
            raise ValueError(f"scanner gain must be 3 positive numbers, got {self.gain!r}")
        if self.gamma <= 0 or self.blur_um < 0 or self.noise_std < 0:
            raise ValueError("scanner gamma must be > 0, blur_um and noise_std >= 0")
        if not 0 <= self.illumination_gradient < 0.5:
            raise ValueError("scanner illumination_gradient must be in [0, 0.5)")
        object.__setattr__(self, "gain", tuple(float(g) for g in self.gain))


# Sensor noise comes from a tile repeated over the slide: pixel noise with a
# period this long is invisible, and drawing 10^8 normals would dominate the
# rendering time. Its height is the renderer's stripe height.
NOISE_TILE = (512, 521)


def noise_rows(rng: np.random.Generator, std: float, width: int) -> np.ndarray:
    """(512, width, 3) int16 rounded Gaussian sensor noise, ``std`` grey levels."""
    tile = rng.standard_normal((*NOISE_TILE, 3), dtype=np.float32) * np.float32(std)
    reps = -(-width // NOISE_TILE[1])
    return np.round(np.tile(tile, (1, reps, 1))[:, :width]).astype(np.int16)


def illumination_field(
    rng: np.random.Generator, shape: tuple[int, int], scanner: ScannerParams
) -> np.ndarray:
    """(h, w) float32 intensity of bare glass on a coarse grid: a gentle tilt plus
    smooth blotches, ``illumination * (1 +- illumination_gradient)``."""
    h, w = shape
    ys = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    a, b = rng.uniform(-1, 1, 2).astype(np.float32)
    field = (a * xs + b * ys) * np.float32(0.5)
    field = field + 0.5 * value_noise(rng, shape, max(h, w) / 3.0)
    field = np.clip(field, -1.0, 1.0)
    return (scanner.illumination * (1.0 + scanner.illumination_gradient * field)).astype(np.float32)


def apply_sensor(
    light: np.ndarray,
    scanner: ScannerParams,
    mpp: float,
    noise: np.ndarray,
    top: int,
    bottom: int,
) -> np.ndarray:
    """Turn the light reaching the sensor over a stripe of rows into RGB.

    Args:
        light: (rows, W, 3) float32 intensity (illumination * transmission),
            modified in place.
        scanner: the scanner.
        mpp: level-0 µm per pixel (the blur is in µm).
        noise: (>= kept rows, W, 3) int16 from :func:`noise_rows`.
        top, bottom: rows at either end that only feed the blur.

    Returns:
        (rows - top - bottom, W, 3) uint8.
    """
    out = light
    if scanner.gain != (1.0, 1.0, 1.0):
        out *= np.asarray(scanner.gain, dtype=np.float32)
    if scanner.gamma != 1.0:
        np.clip(out, 0.0, 255.0, out=out)
        out *= np.float32(1.0 / 255.0)
        np.power(out, np.float32(scanner.gamma), out=out)
        out *= np.float32(255.0)
    out += np.float32(0.5)
    np.clip(out, 0.0, 255.0, out=out)
    rgb = out.astype(np.uint8)
    sigma = scanner.blur_um / mpp
    if sigma > 0.05:
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    rgb = rgb[top:rgb.shape[0] - bottom]
    if scanner.noise_std > 0:
        rgb = cv2.add(rgb, noise[:rgb.shape[0]], dtype=cv2.CV_8U)
    return rgb


def blur_halo(scanner: ScannerParams, mpp: float) -> int:
    """Rows of context a stripe needs on each side for the scanner blur."""
    return int(np.ceil(4 * scanner.blur_um / mpp)) + 1
