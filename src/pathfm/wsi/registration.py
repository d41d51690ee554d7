"""Elastix-style registration of a slide to a reference slide with SimpleITK.

Stages, each multi-resolution, all driven by Mattes mutual information (robust
to stain and scanner colour changes) on one channel of each image:

1. rigid (Euler2D) from a centre-of-mass initialisation,
2. affine, starting from the rigid result,
3. B-spline refinement on top of the affine (composite transform).

Images are numpy RGB arrays at a known mpp. They become SimpleITK images whose
physical unit is the micron: pixel (i, j) has its centre at ((j + ½)·mpp,
(i + ½)·mpp) µm, the convention of :meth:`Slide.read_whole_mpp` (level-0 pixel
x covers [x·mpp, (x+1)·mpp) µm). The returned transform therefore maps
**reference physical coordinates (µm) to moving physical coordinates (µm)**,
whatever the two images' mpp; level-0 pixels of a slide are µm / slide.mpp.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import SimpleITK as sitk
from skimage.color import rgb2hed


@dataclass(frozen=True)
class RegistrationParams:
    """Settings of the three stages (physical sizes in µm, so they hold at any mpp).

    ``channel``: "grey" (1 − luminance) or "haematoxylin" (colour deconvolution OD).
    ``shrink``/``smooth``: pyramid factors and Gaussian sigmas (in pixels of the input)
    per level, coarse to fine, for the rigid and affine stages.
    ``bspline_grid_um``: spacing of B-spline control points. ``bins``: Mattes histogram bins.
    ``sampling``: fraction of pixels sampled by the metric (fixed seed, so runs repeat).
    ``threads``: ITK threads for the whole registration. Only ``threads: 1`` repeats bit for
    bit: with more, ITK's multi-threaded metric sums in a varying order, and on a hard pair
    (the demo's GMH_AT2) that alone moved the median TRE between 0.3 and 106 px.
    """

    channel: str = "haematoxylin"
    bins: int = 32
    sampling: float = 0.25
    seed: int = 0
    shrink: tuple[int, ...] = (8, 4, 2, 1)
    smooth: tuple[float, ...] = (4.0, 2.0, 1.0, 0.0)
    rigid_iterations: int = 300
    affine_iterations: int = 300
    bspline_grid_um: float = 64.0
    bspline_shrink: tuple[int, ...] = (2, 1)
    bspline_smooth: tuple[float, ...] = (1.0, 0.0)
    bspline_iterations: int = 100
    threads: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))

    def __post_init__(self) -> None:
        if self.channel not in ("grey", "haematoxylin"):
            raise ValueError(f"channel must be 'grey' or 'haematoxylin', got {self.channel!r}")
        if len(self.shrink) != len(self.smooth) or len(self.bspline_shrink) != len(
                self.bspline_smooth):
            raise ValueError("shrink and smooth factors need one entry per pyramid level")

    def to_dict(self) -> dict:
        return asdict(self)


def registration_channel(rgb: np.ndarray, channel: str = "haematoxylin") -> np.ndarray:
    """(H, W, 3) uint8 RGB → (H, W) float32 where tissue is bright and glass ≈ 0."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB image, got shape {rgb.shape}")
    if channel == "grey":
        grey = cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
        return 1.0 - grey / 255.0
    if channel == "haematoxylin":
        return rgb2hed(rgb)[..., 0].astype(np.float32)
    raise ValueError(f"unknown channel {channel!r}")


def to_sitk(image: np.ndarray, mpp: float) -> sitk.Image:
    """2-D array (or H×W×3) → SimpleITK image in µm: spacing mpp, first pixel centre at mpp/2."""
    if mpp <= 0:
        raise ValueError(f"mpp must be positive, got {mpp}")
    img = sitk.GetImageFromArray(np.ascontiguousarray(image), isVector=image.ndim == 3)
    img.SetSpacing((float(mpp), float(mpp)))
    img.SetOrigin((mpp / 2.0, mpp / 2.0))
    return img


def _method(params: RegistrationParams, shrink, smooth, iterations: int, linear: bool = True
            ) -> sitk.ImageRegistrationMethod:
    """Mattes MI, seeded random sampling, a pyramid, regular-step gradient descent."""
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=params.bins)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    # SimpleITK reads seed 0 as "seed from the wall clock": shift by one so every seed,
    # 0 included, gives repeatable sampling.
    reg.SetMetricSamplingPercentage(params.sampling, params.seed + 1)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetShrinkFactorsPerLevel(list(shrink))
    reg.SetSmoothingSigmasPerLevel(list(smooth))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    reg.SetNumberOfThreads(params.threads)
    if linear:
        reg.SetOptimizerAsRegularStepGradientDescent(
            learningRate=1.0, minStep=1e-4, numberOfIterations=iterations,
            relaxationFactor=0.6, gradientMagnitudeTolerance=1e-8)
        # Translations are in µm and rotations in radians: scales put them on one footing.
        reg.SetOptimizerScalesFromPhysicalShift()
    else:
        # L-BFGS-B takes no scales; B-spline parameters are all µm displacements anyway.
        reg.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-6,
                                 numberOfIterations=iterations, maximumNumberOfCorrections=5,
                                 maximumNumberOfFunctionEvaluations=4 * iterations)
    return reg


def _run(reg: sitk.ImageRegistrationMethod, fixed, moving, info: dict, stage: str) -> None:
    t0 = time.perf_counter()
    reg.Execute(fixed, moving)
    info[stage] = {"metric": reg.GetMetricValue(), "iterations": reg.GetOptimizerIteration(),
                   "stop": reg.GetOptimizerStopConditionDescription(),
                   "seconds": round(time.perf_counter() - t0, 3)}


def register_images(reference_rgb: np.ndarray, reference_mpp: float, moving_rgb: np.ndarray,
                    moving_mpp: float, params: RegistrationParams = RegistrationParams(),
                    ) -> tuple[sitk.Transform, dict]:
    """Register ``moving`` to ``reference``; both low-resolution RGB images of whole slides.

    Returns ``(transform, info)``: transform maps reference µm → moving µm
    (``transform.TransformPoint((x_um, y_um))``); ``info`` holds the final metric of
    each stage (Mattes MI, lower is better), its iterations and seconds, and the settings.
    """
    # The method's own SetNumberOfThreads does not reach the metric's thread pool, which
    # takes ITK's global default: set that too, and put it back afterwards.
    previous_threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(params.threads)
    try:
        return _register(reference_rgb, reference_mpp, moving_rgb, moving_mpp, params)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous_threads)


def _register(reference_rgb, reference_mpp, moving_rgb, moving_mpp, params):
    fixed = to_sitk(registration_channel(reference_rgb, params.channel), reference_mpp)
    moving = to_sitk(registration_channel(moving_rgb, params.channel), moving_mpp)
    info: dict = {"params": params.to_dict()}

    rigid = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.Euler2DTransform(),
        sitk.CenteredTransformInitializerFilter.MOMENTS)
    reg = _method(params, params.shrink, params.smooth, params.rigid_iterations)
    reg.SetInitialTransform(rigid, inPlace=True)
    _run(reg, fixed, moving, info, "rigid")

    affine = sitk.AffineTransform(2)
    affine.SetCenter(rigid.GetCenter())
    affine.SetMatrix(rigid.GetMatrix())
    affine.SetTranslation(rigid.GetTranslation())
    reg = _method(params, params.shrink, params.smooth, params.affine_iterations)
    reg.SetInitialTransform(affine, inPlace=True)
    _run(reg, fixed, moving, info, "affine")
    # Both stages end on the same full-resolution samples, so their metrics compare. An
    # affine stage that ends worse than the rigid one has diverged (seen on the demo's
    # GMH_AT2: MI -0.50 → -0.23, median TRE 0.3 → 4.9 px): start the B-spline from the
    # rigid result instead.
    info["affine"]["kept"] = info["affine"]["metric"] <= info["rigid"]["metric"]
    if not info["affine"]["kept"]:
        affine.SetMatrix(rigid.GetMatrix())
        affine.SetTranslation(rigid.GetTranslation())

    extent_um = np.array(fixed.GetSize()) * reference_mpp
    mesh = [max(1, int(round(e / params.bspline_grid_um))) for e in extent_um]
    bspline = sitk.BSplineTransformInitializer(fixed, mesh, order=3)
    reg = _method(params, params.bspline_shrink, params.bspline_smooth,
                  params.bspline_iterations, linear=False)
    # The affine maps fixed → moving after the B-spline: x_moving = A(B(x_fixed)).
    reg.SetMovingInitialTransform(affine)
    reg.SetInitialTransform(bspline, inPlace=True)
    _run(reg, fixed, moving, info, "bspline")
    info["bspline_mesh"] = mesh

    # CompositeTransform applies its last-added transform first: A(B(x)).
    composite = sitk.CompositeTransform([affine, bspline])
    return composite, info


def map_points(transform: sitk.Transform, points_um: np.ndarray) -> np.ndarray:
    """(N, 2) reference µm (x, y) → (N, 2) moving µm through ``transform``."""
    pts = np.asarray(points_um, dtype=np.float64).reshape(-1, 2)
    return np.array([transform.TransformPoint((float(x), float(y))) for x, y in pts],
                    dtype=np.float64).reshape(-1, 2)


def target_registration_error(transform: sitk.Transform, reference_points_um: np.ndarray,
                              moving_points_um: np.ndarray, tile_mpp: float = 0.5) -> dict:
    """Distance between mapped reference points and their true moving positions.

    Args: (N, 2) matched point sets in µm; ``tile_mpp`` the tile resolution the error is
    expressed at. Returns {"median_px", "p95_px", "mean_px", "max_px", "median_um", "n"}.
    """
    err_um = np.linalg.norm(map_points(transform, reference_points_um)
                            - np.asarray(moving_points_um, dtype=np.float64), axis=1)
    err_px = err_um / tile_mpp
    return {"median_px": float(np.median(err_px)), "p95_px": float(np.percentile(err_px, 95)),
            "mean_px": float(err_px.mean()), "max_px": float(err_px.max()),
            "median_um": float(np.median(err_um)), "tile_mpp": float(tile_mpp),
            "n": int(len(err_px))}


def resample_to_reference(moving_rgb: np.ndarray, moving_mpp: float, transform: sitk.Transform,
                          reference_shape: tuple[int, int], reference_mpp: float) -> np.ndarray:
    """Moving RGB seen on the reference's pixel grid (glass-white outside the moving image)."""
    ref = to_sitk(np.zeros(reference_shape[:2], np.uint8), reference_mpp)
    mov = to_sitk(np.asarray(moving_rgb, np.uint8), moving_mpp)
    out = sitk.Resample(mov, ref, transform, sitk.sitkLinear, 255.0)
    return sitk.GetArrayFromImage(out).astype(np.uint8)


def save_transform(transform: sitk.Transform, path: str | Path) -> None:
    """Write ``.tfm`` atomically (the name keeps its ``.tfm`` suffix, which selects the format)."""
    path = Path(path)
    if path.suffix != ".tfm":
        raise ValueError(f"transform files end in .tfm, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.tfm")
    try:
        sitk.WriteTransform(transform, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_transform(path: str | Path) -> sitk.Transform:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"transform not found: {path} (run the registration step first)")
    return sitk.ReadTransform(str(path))


def write_qc_png(reference_rgb: np.ndarray, reference_mpp: float, moving_rgb: np.ndarray,
                 moving_mpp: float, transform: sitk.Transform, path: str | Path,
                 squares: int = 8) -> None:
    """Checkerboard (left) and colour overlay (right) of reference vs registered moving.

    Overlay: reference tissue in magenta, registered moving in green; aligned tissue
    is grey-white, misaligned edges show colour fringes.
    """
    ref = np.asarray(reference_rgb, np.uint8)
    warped = resample_to_reference(moving_rgb, moving_mpp, transform, ref.shape, reference_mpp)
    h, w = ref.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    cell = max(1, min(h, w) // squares)
    board = np.where((((yy // cell) + (xx // cell)) % 2 == 0)[..., None], ref, warped)
    g_ref = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
    g_mov = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY)
    overlay = np.stack([g_ref, g_mov, g_ref], axis=-1)
    panel = np.concatenate([board, np.full((h, 4, 3), 255, np.uint8), overlay], axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write QC image {path}")
    os.replace(tmp, path)
