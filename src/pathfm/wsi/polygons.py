"""Tissue masks as polygons in level-0 pixel coordinates (GeoJSON), and back."""

from __future__ import annotations

import cv2
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape


def mask_to_polygons(mask: np.ndarray, scale: float) -> MultiPolygon:
    """Polygons (with holes) of a boolean mask, scaled by ``scale`` to level-0 pixels.

    Contour vertices sit on pixel corners (hence the half-pixel shift) so that
    rasterising the polygons gives back the mask.
    """
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP,
                                           cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return MultiPolygon()
    hierarchy = hierarchy[0]
    polys = []
    for i, contour in enumerate(contours):
        if hierarchy[i][3] != -1 or len(contour) < 3:
            continue  # holes are attached to their parent below
        shell = (contour[:, 0, :].astype(float) + 0.5) * scale
        holes = []
        child = hierarchy[i][2]
        while child != -1:
            if len(contours[child]) >= 3:
                holes.append((contours[child][:, 0, :].astype(float) + 0.5) * scale)
            child = hierarchy[child][0]
        poly = shapely.make_valid(Polygon(shell, holes))
        polys.extend(_polygons_of(poly))
    return MultiPolygon(polys)


def _polygons_of(geom) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty else []
    return [g for part in getattr(geom, "geoms", []) for g in _polygons_of(part)]


def polygons_to_geojson(polys: MultiPolygon, properties: dict) -> dict:
    features = [
        {"type": "Feature", "geometry": mapping(p), "properties": {"classification": "tissue"}}
        for p in polys.geoms
    ]
    return {"type": "FeatureCollection", "properties": properties, "features": features}


def geojson_to_polygons(geojson: dict) -> MultiPolygon:
    polys: list[Polygon] = []
    for feature in geojson.get("features", []):
        polys.extend(_polygons_of(shape(feature["geometry"])))
    return MultiPolygon(polys)
