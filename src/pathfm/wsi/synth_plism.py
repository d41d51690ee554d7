"""Synthetic PLISM-like material: a TMA of textured punches seen through known warps.

The tissue is a pair of stain-density rasters (haematoxylin ``h``, eosin ``e``) on
a fine grid in microns. A slide of the set samples them through a
:class:`KnownWarp` (affine + smooth elastic, the kind of distortion a recut and
rescan brings) and turns densities into colour with the Beer–Lambert model of
:mod:`pathfm.wsi.synth.stain` and a scanner's illumination, gain, gamma and blur
(:class:`pathfm.wsi.synth.scanner.ScannerParams`). Because the warp is known,
registration and matched tiling can be checked against the truth.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from pathfm.io import write_json_atomic
from pathfm.wsi.synth.scanner import ScannerParams
from pathfm.wsi.synth.stain import StainParams, od_to_rgb, optical_density
from pathfm.wsi.tiff_writer import write_pyramidal_tiff


@dataclass(frozen=True)
class KnownWarp:
    """Ground-truth geometry of one slide relative to the reference, in µm.

    ``moving_to_reference(y) = M (y − c) + c + t + u(y)`` with the elastic field
    ``u_x = ax·sin(2πy/λ1)·cos(2πx/λ2)``, ``u_y = ay·cos(2πx/λ3)·sin(2πy/λ4 + φ)``.
    A slide is rendered by sampling the reference tissue at ``moving_to_reference``
    of each of its pixels; registration should recover the inverse,
    :meth:`reference_to_moving`.
    """

    matrix: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 0.0), (0.0, 1.0))
    centre: tuple[float, float] = (0.0, 0.0)
    translation: tuple[float, float] = (0.0, 0.0)
    elastic_amplitude: tuple[float, float] = (0.0, 0.0)
    elastic_wavelength: tuple[float, float, float, float] = (300.0, 420.0, 350.0, 260.0)
    elastic_phase: float = 0.7

    @classmethod
    def random(cls, rng: np.random.Generator, centre: tuple[float, float], *,
               max_rotation_deg: float = 8.0, max_scale: float = 0.05, max_shear: float = 0.03,
               max_shift_um: float = 30.0, elastic_um: float = 6.0,
               elastic_wavelength_um: float = 300.0) -> KnownWarp:
        theta = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
        scale = 1 + rng.uniform(-max_scale, max_scale)
        rot = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        mat = rot @ np.array([[1.0, rng.uniform(-max_shear, max_shear)], [0.0, 1.0]])
        lam = elastic_wavelength_um * rng.uniform(0.8, 1.4, size=4)
        return cls(matrix=tuple(map(tuple, mat.tolist())), centre=tuple(map(float, centre)),
                   translation=tuple(rng.uniform(-max_shift_um, max_shift_um, 2).tolist()),
                   elastic_amplitude=tuple(rng.uniform(0.6, 1.0, 2) * elastic_um),
                   elastic_wavelength=tuple(lam.tolist()),
                   elastic_phase=float(rng.uniform(0, 2 * np.pi)))

    def _elastic(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ax, ay = self.elastic_amplitude
        l1, l2, l3, l4 = self.elastic_wavelength
        ux = ax * np.sin(2 * np.pi * y / l1) * np.cos(2 * np.pi * x / l2)
        uy = ay * np.cos(2 * np.pi * x / l3) * np.sin(2 * np.pi * y / l4 + self.elastic_phase)
        return ux, uy

    def moving_to_reference(self, x_um, y_um) -> tuple[np.ndarray, np.ndarray]:
        """Moving-slide µm → reference µm (arrays of any matching shape)."""
        x, y = np.asarray(x_um, np.float64), np.asarray(y_um, np.float64)
        (m00, m01), (m10, m11) = self.matrix
        cx, cy = self.centre
        ux, uy = self._elastic(x, y)
        return (m00 * (x - cx) + m01 * (y - cy) + cx + self.translation[0] + ux,
                m10 * (x - cx) + m11 * (y - cy) + cy + self.translation[1] + uy)

    def reference_to_moving(self, x_um, y_um, iterations: int = 30) -> tuple[np.ndarray,
                                                                             np.ndarray]:
        """Inverse of :meth:`moving_to_reference` by fixed-point iteration (the elastic part is
        small and smooth, so it contracts); accurate to well below 1e-6 µm."""
        x, y = np.asarray(x_um, np.float64), np.asarray(y_um, np.float64)
        inv = np.linalg.inv(np.asarray(self.matrix, np.float64))
        cx, cy = self.centre
        mx, my = x.copy(), y.copy()
        for _ in range(iterations):
            ux, uy = self._elastic(mx, my)
            rx, ry = x - cx - self.translation[0] - ux, y - cy - self.translation[1] - uy
            mx = inv[0, 0] * rx + inv[0, 1] * ry + cx
            my = inv[1, 0] * rx + inv[1, 1] * ry + cy
        return mx, my

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> KnownWarp:
        """Inverse of :meth:`to_dict` (JSON lists back to the tuples the dataclass holds)."""
        def tup(v):
            return tuple(tup(x) for x in v) if isinstance(v, (list, tuple)) else float(v)
        return cls(**{k: tup(v) for k, v in values.items()})


def punch_scene(rng: np.random.Generator, size_um: tuple[float, float], mpp: float,
                centres_um: np.ndarray, radius_um: float, nuclei_per_mm2: float = 9000.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Stain densities of round, ragged tissue punches: (h, e), each (H, W) float32.

    Pixel (i, j) has its centre at ((j+½)·mpp, (i+½)·mpp) µm. Nuclei (haematoxylin
    discs 2.5–5 µm) over eosin with smooth texture; glass is 0.
    """
    w, h = int(round(size_um[0] / mpp)), int(round(size_um[1] / mpp))
    yy, xx = (np.mgrid[0:h, 0:w] + 0.5) * mpp
    tissue = np.zeros((h, w), np.float32)
    for cx, cy in np.asarray(centres_um, np.float64).reshape(-1, 2):
        ang = np.arctan2(yy - cy, xx - cx)
        ph = rng.uniform(0, 2 * np.pi, 2)
        rad = radius_um * (1 + 0.07 * np.sin(3 * ang + ph[0]) + 0.05 * np.sin(5 * ang + ph[1]))
        tissue[np.hypot(xx - cx, yy - cy) < rad] = 1.0
    cells = max(2, int(max(size_um) / 25))
    low = cv2.resize(rng.random((cells, cells)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    e = tissue * (0.35 + 0.5 * np.clip(low, 0, 1))
    nuc = np.zeros((h, w), np.float32)
    count = int(nuclei_per_mm2 * size_um[0] * size_um[1] / 1e6)
    px, py = rng.uniform(0, w, count), rng.uniform(0, h, count)
    radii = rng.uniform(2.5, 5.0, count) / mpp / 2
    for x, y, r in zip(px, py, radii):
        cv2.circle(nuc, (int(x), int(y)), max(1, int(round(r))), float(rng.uniform(0.6, 1.0)), -1)
    nuc = cv2.GaussianBlur(nuc, (0, 0), max(0.5, 0.5 / mpp))
    return nuc * tissue, e.astype(np.float32)


def sample_densities(h: np.ndarray, e: np.ndarray, density_mpp: float, x_um: np.ndarray,
                     y_um: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples of the density rasters at µm positions (arrays of one shape)."""
    mx = (np.asarray(x_um) / density_mpp - 0.5).astype(np.float32)
    my = (np.asarray(y_um) / density_mpp - 0.5).astype(np.float32)
    return (cv2.remap(h, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0),
            cv2.remap(e, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0))


def to_rgb(h: np.ndarray, e: np.ndarray, stain: StainParams, scanner: ScannerParams,
           mpp: float) -> np.ndarray:
    """Densities → (H, W, 3) uint8 through Beer–Lambert, scanner gain, gamma and blur.

    The scanner's noise and illumination gradient are left out: the PLISM set is
    about colour and geometry, and noise-free images keep the tests exact.
    """
    rgb = od_to_rgb(optical_density(h, e, stain), scanner.illumination)
    rgb *= np.asarray(scanner.gain, np.float32)
    rgb = 255.0 * np.clip(rgb / 255.0, 0, 1) ** np.float32(scanner.gamma)
    if scanner.blur_um > 0:
        rgb = cv2.GaussianBlur(rgb, (0, 0), scanner.blur_um / mpp)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def render_warped(h: np.ndarray, e: np.ndarray, density_mpp: float, warp: KnownWarp,
                  shape: tuple[int, int], mpp: float, stain: StainParams,
                  scanner: ScannerParams) -> np.ndarray:
    """One slide image (shape (H, W) at ``mpp``) of the reference tissue seen through ``warp``."""
    yy, xx = (np.mgrid[0:shape[0], 0:shape[1]] + 0.5) * mpp
    rx, ry = warp.moving_to_reference(xx, yy)
    hs, es = sample_densities(h, e, density_mpp, rx, ry)
    return to_rgb(hs, es, stain, scanner, mpp)


def _name_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, *name.encode()])


def staining_for(name: str, seed: int = 0, reference: str = "GMH") -> StainParams:
    """A staining protocol: the reference H&E vectors perturbed per name (reference unchanged)."""
    if name == reference:
        return StainParams()
    rng = _name_rng(seed, name)
    base = np.asarray(StainParams().matrix)
    matrix = np.clip(base * rng.uniform(0.75, 1.25, base.shape), 0.02, None)
    return StainParams(matrix=tuple(map(tuple, matrix.tolist())),
                       h_scale=float(rng.uniform(0.7, 1.4)), e_scale=float(rng.uniform(0.6, 1.4)))


def scanner_for(name: str, seed: int = 0, reference: str = "S60") -> ScannerParams:
    """A scanner: illumination, colour gain, gamma and blur drawn per name (reference plain)."""
    if name == reference:
        return ScannerParams(blur_um=0.0)
    rng = _name_rng(seed, name)
    return ScannerParams(illumination=float(rng.uniform(225, 248)),
                         gain=tuple(rng.uniform(0.9, 1.08, 3).tolist()),
                         gamma=float(rng.uniform(0.85, 1.2)), blur_um=float(rng.uniform(0, 0.5)))


def tma_centres(rows: int, cols: int, pitch_um: float, margin_um: float) -> np.ndarray:
    """(rows·cols, 2) punch centres in µm on a regular TMA grid."""
    iy, ix = np.mgrid[0:rows, 0:cols]
    return np.stack([margin_um + (ix.ravel() + 0.5) * pitch_um,
                     margin_um + (iy.ravel() + 0.5) * pitch_um], 1).astype(np.float64)


def render_plism_set(out_dir, stainings, scanners, *, rows: int = 2, cols: int = 3,
                     punch_radius_um: float = 180.0, pitch_um: float = 440.0,
                     margin_um: float = 120.0, mpp: float = 0.5, density_mpp: float = 0.5,
                     reference: str = "GMH_S60", seed: int = 0,
                     warp_kwargs: dict | None = None) -> dict:
    """Write ``{out_dir}/slides/{staining}_{scanner}.svs`` and ``ground_truth.json``.

    One TMA (rows × cols punches) is stained and scanned under every combination;
    every slide but the reference is seen through its own :class:`KnownWarp`
    (ground truth: moving µm → reference µm, stored per slide). Returns the JSON dict.
    """
    out = Path(out_dir)
    (out / "slides").mkdir(parents=True, exist_ok=True)
    size = (2 * margin_um + cols * pitch_um, 2 * margin_um + rows * pitch_um)
    centres = tma_centres(rows, cols, pitch_um, margin_um)
    h, e = punch_scene(np.random.default_rng(seed), size, density_mpp, centres, punch_radius_um)
    shape = (int(round(size[1] / mpp)), int(round(size[0] / mpp)))
    ref_staining, ref_scanner = reference.split("_", 1)
    truth = {"reference": reference, "mpp": mpp, "size_um": list(size),
             "punch_centres_um": centres.tolist(), "punch_radius_um": punch_radius_um,
             "slides": {}}
    for st in stainings:
        for sc in scanners:
            slide_id = f"{st}_{sc}"
            warp = (KnownWarp() if slide_id == reference else KnownWarp.random(
                _name_rng(seed, slide_id), (size[0] / 2, size[1] / 2), **(warp_kwargs or {})))
            rgb = render_warped(h, e, density_mpp, warp, shape, mpp,
                                staining_for(st, seed, ref_staining),
                                scanner_for(sc, seed, ref_scanner))
            path = write_pyramidal_tiff(out / "slides" / f"{slide_id}.svs", rgb, mpp=mpp,
                                        jpeg_quality=90)
            truth["slides"][slide_id] = {"path": str(path), "warp": json.loads(
                json.dumps(warp.to_dict()))}
    write_json_atomic(out / "ground_truth.json", truth)
    return truth


def ground_truth_points(truth: dict, slide_id: str, per_punch: int = 64, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Matched points for a TRE: (N, 2) reference µm inside the punches and (N, 2) their true
    positions in ``slide_id`` (µm), from a :func:`render_plism_set` ground-truth dict.

    Points stay within 85 % of the punch radius, clear of the ragged rim where tissue
    may be missing in some slides.
    """
    centres = np.asarray(truth["punch_centres_um"], np.float64).reshape(-1, 2)
    radius = 0.85 * float(truth.get("punch_radius_um", 180.0))
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, 2 * np.pi, (len(centres), per_punch))
    rad = radius * np.sqrt(rng.uniform(0, 1, (len(centres), per_punch)))
    ref = (centres[:, None, :] + np.stack([rad * np.cos(ang), rad * np.sin(ang)], -1)
           ).reshape(-1, 2)
    if slide_id not in truth["slides"]:
        raise KeyError(f"{slide_id} is not in the ground truth (slides: {sorted(truth['slides'])})")
    warp = KnownWarp.from_dict(truth["slides"][slide_id]["warp"])
    mx, my = warp.reference_to_moving(ref[:, 0], ref[:, 1])
    return ref, np.stack([mx, my], 1)
