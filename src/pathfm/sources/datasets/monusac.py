"""MoNuSAC 2020: per-patient folders of .tif images with .xml polygon annotations.

Split by the two released archives: train = ``MoNuSAC_images_and_annotations``,
test = ``MoNuSAC Testing Data and Annotations``. Masks are rasterised as eva does:
0 background, 1 Epithelial, 2 Lymphocyte, 3 Neutrophil, 4 Macrophage; an instance
map numbers each polygon.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from PIL import Image
from skimage import draw

from pathfm.sources.datasets.fetch import require

NAME = "monusac"
RESOURCES: list = []
MANUAL = "Download the MoNuSAC 2020 training and testing archives (monusac-2020.grand-challenge.org) into ROOT."
CLASSES = ["Epithelial", "Lymphocyte", "Neutrophil", "Macrophage"]
SPLIT_DIRS = {"train": "MoNuSAC_images_and_annotations", "test": "MoNuSAC Testing Data and Annotations"}


def load(root: str | Path) -> pd.DataFrame:
    root = Path(root)
    present = {s: d for s, d in SPLIT_DIRS.items() if (root / d).is_dir()}
    require(root, [SPLIT_DIRS["train"]] if not present else list(present.values()), "MoNuSAC", MANUAL)
    rows = []
    for split, folder in present.items():
        for img in sorted((root / folder).rglob("*.tif")):
            rows.append({"path": str(img), "xml_path": str(img.with_suffix(".xml")), "patient": img.parent.name,
                         "split": split})
    return pd.DataFrame(rows, columns=["path", "xml_path", "patient", "split"])


def load_masks(image_path: str | Path, xml_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(instance map, semantic map) rasterised from the XML polygons."""
    with Image.open(image_path) as im:
        width, height = im.size
    semantic = np.zeros((height, width), np.uint8)
    instance = np.zeros((height, width), np.int32)
    n = 0
    for annotation in ElementTree.parse(str(xml_path)).getroot():
        names = [a.attrib.get("Name") for a in annotation.iter("Attribute")]
        label = next((x for x in names if x in CLASSES), None)
        if label is None:
            continue
        for region in annotation.iter("Region"):
            vertices = np.array([(float(v.attrib["X"]), float(v.attrib["Y"])) for v in region.iter("Vertex")])
            if len(vertices) < 3:
                continue
            rr, cc = draw.polygon(vertices[:, 1], vertices[:, 0], (height, width))
            n += 1
            semantic[rr, cc] = CLASSES.index(label) + 1
            instance[rr, cc] = n
    return instance, semantic
