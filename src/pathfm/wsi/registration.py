"""Elastix-style registration of a slide to a reference slide with SimpleITK.

Stages, each multi-resolution, all driven by Mattes mutual information (robust
to stain and scanner colour changes) on one channel of each image:

0. a coarse search over rotation (and, as a setting, mirror flips): every
   ``rotation_step_deg`` over ±``rotation_search_deg`` about the tissue's centre of
   mass, MI on the coarsest pyramid level; the best few, far enough apart, are
   refined by a short rigid run on the two coarsest levels and the best of those
   starts stage 1 (``rotation_search_deg: 0`` skips this: stage 1 starts at angle 0),
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

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import SimpleITK as sitk
from skimage.color import rgb2hed

log = logging.getLogger(__name__)

CHANNELS = ("od", "grey", "haematoxylin")


@dataclass(frozen=True)
class RegistrationParams:
    """Settings of the stages (physical sizes in µm, so they hold at any mpp).

    ``channel``: the image MI is computed on, tissue bright and glass ≈ 0:
    "od" (default) mean optical density −log(I / glass) over R, G, B, with the glass
    level measured per channel on each image; "grey" 1 − luminance; "haematoxylin"
    the colour-deconvolution H channel (fixed Ruifrok–Johnston vectors). "od" and
    "grey" see all the tissue whatever its stain; "haematoxylin" keeps mostly the
    nuclei, and when the staining moves the stain vectors away from the fixed ones
    it loses tissue and the coarse levels turn to noise: with it, a 10–15° rotation
    together with a stain change sent the rigid/affine stages to a wrong optimum
    (median TRE 21–101 px at 0.5 µm/px), the same pairs registering to < 1 px on
    "grey"/"od". "od" also divides out the scanner's illumination and colour gain.
    ``rotation_search_deg``/``rotation_step_deg``: the coarse search tries rotations
    every step degrees over ±search degrees (0 turns it off: the rigid stage starts
    at angle 0, as before the search existed); ``rotation_starts`` of its best,
    mutually ≥ 2 steps apart, are refined and the best refined one starts the
    rigid stage. ``flips``: also try the moving image mirrored (a slide scanned
    face down); the mirror is folded into the affine of the result.
    ``shrink``/``smooth``: pyramid factors and Gaussian sigmas (in pixels of the input)
    per level, coarse to fine, for the rigid and affine stages (the search runs on
    the first one or two levels).
    ``bspline_grid_um``: spacing of B-spline control points. ``bins``: Mattes histogram bins.
    ``sampling``: fraction of pixels sampled by the metric (fixed seed, so runs repeat).
    ``threads``: ITK threads for the whole registration. Only ``threads: 1`` repeats bit for
    bit: with more, ITK's multi-threaded metric sums in a varying order, and on a hard pair
    (the demo's GMH_AT2) that alone moved the median TRE between 0.3 and 106 px.
    """

    channel: str = "od"
    bins: int = 32
    sampling: float = 0.25
    seed: int = 0
    shrink: tuple[int, ...] = (8, 4, 2, 1)
    smooth: tuple[float, ...] = (4.0, 2.0, 1.0, 0.0)
    rotation_search_deg: float = 180.0
    rotation_step_deg: float = 5.0
    rotation_starts: int = 3
    flips: bool = False
    rigid_iterations: int = 300
    affine_iterations: int = 300
    bspline_grid_um: float = 64.0
    bspline_shrink: tuple[int, ...] = (2, 1)
    bspline_smooth: tuple[float, ...] = (1.0, 0.0)
    bspline_iterations: int = 100
    threads: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, got {self.channel!r}")
        if len(self.shrink) != len(self.smooth) or len(self.bspline_shrink) != len(
                self.bspline_smooth):
            raise ValueError("shrink and smooth factors need one entry per pyramid level")
        if not 0 <= self.rotation_search_deg <= 180:
            raise ValueError(f"rotation_search_deg must be in [0, 180], got "
                             f"{self.rotation_search_deg}")
        if self.rotation_step_deg <= 0 or self.rotation_starts < 1:
            raise ValueError("rotation_step_deg must be > 0 and rotation_starts >= 1")

    @property
    def searches(self) -> bool:
        """Whether the coarse search runs (a rotation range, or flips, to try)."""
        return self.rotation_search_deg > 0 or self.flips

    def to_dict(self) -> dict:
        return asdict(self)


def registration_channel(rgb: np.ndarray, channel: str = "od") -> np.ndarray:
    """(H, W, 3) uint8 RGB → (H, W) float32 where tissue is bright and glass ≈ 0."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB image, got shape {rgb.shape}")
    if channel == "od":
        # Glass per channel: the 99th percentile (slides are mostly glass, PLISM's TMAs
        # certainly), over every 4th row and column; dividing by it removes the scanner's
        # illumination and colour gain.
        flat = rgb[::4, ::4].reshape(-1, 3).astype(np.float32)
        glass = np.maximum(np.percentile(flat, 99.0, axis=0), 1.0).astype(np.float32)
        rel = np.clip(rgb.astype(np.float32) / glass, 1.0 / 255.0, 1.0)
        return (-np.log(rel)).mean(axis=2).astype(np.float32)
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
    # Wall-clock time goes to the log only: info ends up in output files, which must repeat
    # byte for byte.
    t0 = time.perf_counter()
    reg.Execute(fixed, moving)
    info[stage] = {"metric": reg.GetMetricValue(), "iterations": reg.GetOptimizerIteration(),
                   "stop": reg.GetOptimizerStopConditionDescription()}
    log.info("%s stage: MI %.4f after %d iterations in %.2f s", stage, info[stage]["metric"],
             info[stage]["iterations"], time.perf_counter() - t0)


def register_images(reference_rgb: np.ndarray, reference_mpp: float, moving_rgb: np.ndarray,
                    moving_mpp: float, params: RegistrationParams = RegistrationParams(),
                    ) -> tuple[sitk.Transform, dict]:
    """Register ``moving`` to ``reference``; both low-resolution RGB images of whole slides.

    Returns ``(transform, info)``: transform maps reference µm → moving µm
    (``transform.TransformPoint((x_um, y_um))``); ``info`` holds the coarse search's
    choice, the final metric of each stage (Mattes MI, lower is better) and its
    iterations, and the settings; no wall-clock times (those are logged), so with
    ``threads: 1`` it repeats exactly.
    """
    # The method's own SetNumberOfThreads does not reach the metric's thread pool, which
    # takes ITK's global default: set that too, and put it back afterwards.
    previous_threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(params.threads)
    try:
        return _register(reference_rgb, reference_mpp, moving_rgb, moving_mpp, params)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous_threads)


def _pyramid_level(image: sitk.Image, shrink: int, sigma_px: float) -> sitk.Image:
    """One level of the registration pyramid: Gaussian (sigma in input pixels), then shrink."""
    if sigma_px > 0:
        image = sitk.SmoothingRecursiveGaussian(image, sigma_px * image.GetSpacing()[0])
    return sitk.Shrink(image, [int(shrink)] * 2) if shrink > 1 else image


def _angles(params: RegistrationParams) -> list[float]:
    """Candidate angles in degrees: 0, ±step, ±2·step, … within ±rotation_search_deg."""
    n = int(np.floor(params.rotation_search_deg / params.rotation_step_deg + 1e-9))
    angles = [0.0]
    for k in range(1, n + 1):
        angles += [k * params.rotation_step_deg, -k * params.rotation_step_deg]
    return [a for a in angles if a > -180.0 + 1e-9]    # −180° is +180°


def _circular_gap_deg(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _coarse_search(fixed, movings: dict[bool, sitk.Image], params: RegistrationParams,
                   info: dict) -> tuple[bool, sitk.Euler2DTransform]:
    """Stage 0: scan rotations (and flips) on the coarsest level, refine the best few.

    Every candidate rotates about the fixed image's centre of mass and maps it onto the
    moving one's (``CenteredTransformInitializer`` MOMENTS at that angle). MI over all
    pixels of the coarsest level ranks them; the best ``rotation_starts``, at least two
    steps apart (or on the other side of a flip), each get a rigid run on the first two
    pyramid levels, whose final metrics (same level, same samples) pick the winner.
    """
    t0 = time.perf_counter()
    shrink, sigma = params.shrink[0], params.smooth[0]
    fixed_c = _pyramid_level(fixed, shrink, sigma)
    scan = sitk.ImageRegistrationMethod()
    scan.SetMetricAsMattesMutualInformation(numberOfHistogramBins=params.bins)
    scan.SetMetricSamplingStrategy(scan.NONE)   # every pixel: a few thousand, and exact
    scan.SetInterpolator(sitk.sitkLinear)
    scan.SetNumberOfThreads(params.threads)
    starts: dict[bool, sitk.Euler2DTransform] = {}
    scored: list[tuple[float, bool, float]] = []
    for flip, moving in movings.items():
        starts[flip] = sitk.CenteredTransformInitializer(
            fixed, moving, sitk.Euler2DTransform(),
            sitk.CenteredTransformInitializerFilter.MOMENTS)
        moving_c = _pyramid_level(moving, shrink, sigma)
        for angle in _angles(params):
            tx = sitk.Euler2DTransform(starts[flip])
            tx.SetAngle(np.deg2rad(angle))
            scan.SetInitialTransform(tx, inPlace=False)
            try:
                value = scan.MetricEvaluate(fixed_c, moving_c)
            except RuntimeError:    # too few samples inside the moving image
                continue
            scored.append((float(value), flip, float(angle)))
    if not scored:
        raise RuntimeError("rotation search: no candidate overlaps the moving image")
    scored.sort()
    picked: list[tuple[float, bool, float]] = []
    for cand in scored:
        if all(cand[1] != p[1] or _circular_gap_deg(cand[2], p[2])
               >= 2 * params.rotation_step_deg - 1e-9 for p in picked):
            picked.append(cand)
        if len(picked) == params.rotation_starts:
            break
    levels = min(2, len(params.shrink))
    best = None
    candidates = []
    for value, flip, angle in picked:
        tx = sitk.Euler2DTransform(starts[flip])
        tx.SetAngle(np.deg2rad(angle))
        reg = _method(params, params.shrink[:levels], params.smooth[:levels],
                      min(100, params.rigid_iterations))
        reg.SetInitialTransform(tx, inPlace=True)
        reg.Execute(fixed, movings[flip])
        refined = float(reg.GetMetricValue())
        candidates.append({"angle_deg": angle, "flip": flip, "coarse_metric": value,
                           "refined_metric": refined,
                           "refined_angle_deg": float(np.rad2deg(tx.GetAngle()))})
        if best is None or refined < best[0]:
            best = (refined, flip, tx)
    _, flip, tx = best
    info["search"] = {"evaluated": len(scored), "candidates": candidates,
                      "angle_deg": float(np.rad2deg(tx.GetAngle())), "flip": flip}
    log.info("rotation search: %d candidates, start at %.1f° (flip %s) in %.2f s",
             len(scored), info["search"]["angle_deg"], flip, time.perf_counter() - t0)
    return flip, tx


def _unflip(affine: sitk.AffineTransform, width_um: float) -> sitk.AffineTransform:
    """F ∘ A for the mirror F(x, y) = (width − x, y) that maps the flipped moving image
    onto the moving one: still one affine (with a reflection)."""
    d = np.diag([-1.0, 1.0])
    c = np.array(affine.GetCenter())
    m = np.array(affine.GetMatrix()).reshape(2, 2)
    t = np.array(affine.GetTranslation())
    out = sitk.AffineTransform(2)
    out.SetCenter(tuple(c))
    out.SetMatrix(tuple((d @ m).ravel()))
    out.SetTranslation(tuple(d @ (c + t) + np.array([width_um, 0.0]) - c))
    return out


def _register(reference_rgb, reference_mpp, moving_rgb, moving_mpp, params):
    fixed = to_sitk(registration_channel(reference_rgb, params.channel), reference_mpp)
    moving_arr = registration_channel(moving_rgb, params.channel)
    movings = {False: to_sitk(moving_arr, moving_mpp)}
    if params.flips:
        movings[True] = to_sitk(np.ascontiguousarray(moving_arr[:, ::-1]), moving_mpp)
    info: dict = {"params": params.to_dict()}

    if params.searches:
        flip, rigid = _coarse_search(fixed, movings, params, info)
    else:
        flip = False
        rigid = sitk.CenteredTransformInitializer(
            fixed, movings[False], sitk.Euler2DTransform(),
            sitk.CenteredTransformInitializerFilter.MOMENTS)
    moving = movings[flip]
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
    if flip:
        affine = _unflip(affine, moving_arr.shape[1] * moving_mpp)
        moving = movings[False]

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
