"""Point-in-polygon: which admin areas a GPS point lies in, from the gazetteer's boundaries (shapely STRtree)."""

from __future__ import annotations

import numpy as np
import shapely
from django.core.exceptions import ValidationError

from .models import AdminArea, GazetteerVersion

LOCATOR_NO_GAZETTEER = "There is no current gazetteer for {country}; import its p-code table first."
# Simplified boundaries leave slivers between neighbours; a point this close (in degrees, ~1 km at
# the equator) to one area and inside none is placed in the nearest.
NEAR_EDGE_DEGREES = 0.01


class AreaLocator:
    """Places points in the current gazetteer's areas: deepest level with boundaries first, then up the tree."""

    def __init__(
        self,
        country_iso3: str,
        *,
        version: GazetteerVersion | None = None,
        tolerance: float = NEAR_EDGE_DEGREES,
    ):
        self.country_iso3 = country_iso3.strip().upper()
        if version is None:
            version = GazetteerVersion.objects.filter(country_iso3=self.country_iso3, is_current=True).first()
            if version is None:
                raise ValidationError(LOCATOR_NO_GAZETTEER.format(country=self.country_iso3))
        self.version = version
        self.tolerance = tolerance
        rows = list(
            AdminArea.objects.filter(version=version).values_list(
                "id", "pcode", "level", "name", "parent_id", "geometry"
            )
        )
        by_id = {r[0]: r for r in rows}
        self.names = {r[1]: r[3] for r in rows}
        self.levels = {r[1]: r[2] for r in rows}
        # admin codes of every area from its parent chain: {pcode: {"admin1_code": ..., ...}}
        self.codes: dict[str, dict[str, str]] = {}
        for area_id, pcode, _level, *_ in rows:
            codes, node = {}, by_id.get(area_id)
            while node is not None and node[2] >= 1:
                codes[f"admin{node[2]}_code"] = node[1]
                node = by_id.get(node[4])
            self.codes[pcode] = codes
        # One tree per level that has boundaries, deepest first.
        self._trees: list[tuple[int, shapely.STRtree, np.ndarray, np.ndarray]] = []
        with_geometry: dict[int, list[tuple[str, str]]] = {}
        for _, pcode, level, _, _, geometry in rows:
            if geometry and level >= 1:
                with_geometry.setdefault(level, []).append((pcode, geometry))
        for level in sorted(with_geometry, reverse=True):
            pcodes, texts = zip(*sorted(with_geometry[level]), strict=True)
            geoms = shapely.make_valid(shapely.from_geojson(list(texts), on_invalid="ignore"))
            keep = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
            geoms = geoms[keep]
            shapely.prepare(geoms)
            self._trees.append((level, shapely.STRtree(geoms), geoms, np.array(pcodes, dtype=object)[keep]))

    @property
    def has_boundaries(self) -> bool:
        return bool(self._trees)

    @property
    def deepest_level(self) -> int:
        return self._trees[0][0] if self._trees else 0

    def locate(self, lon: float, lat: float) -> dict[str, str]:
        """{"admin1_code", "admin2_code", "admin3_code"} of a point ("" where it lies in no area)."""
        return self.locate_many([lon], [lat])[0]

    def locate_pcodes(self, lons, lats) -> np.ndarray:
        """The deepest p-code each point lies in ("" for none), vectorised over numpy arrays."""
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        found = np.full(len(lons), "", dtype=object)
        if not len(lons) or not self._trees:
            return found
        todo = np.flatnonzero(np.isfinite(lons) & np.isfinite(lats))
        for _, tree, geoms, pcodes in self._trees:
            if not len(todo):
                break
            # Bounding-box candidates from the tree, then one vectorised exact test on prepared polygons.
            point_idx, geom_idx = tree.query(shapely.points(lons[todo], lats[todo]))
            inside = shapely.intersects_xy(geoms[geom_idx], lons[todo][point_idx], lats[todo][point_idx])
            point_idx, geom_idx = point_idx[inside], geom_idx[inside]
            # Where overlapping slivers put a point in two areas, the first p-code in order wins.
            first = np.unique(point_idx, return_index=True)
            found[todo[first[0]]] = pcodes[geom_idx[first[1]]]
            todo = todo[found[todo] == ""]
        if len(todo) and self.tolerance:
            _, tree, geoms, pcodes = self._trees[0]
            point_idx, geom_idx = tree.query_nearest(
                shapely.points(lons[todo], lats[todo]), max_distance=self.tolerance, all_matches=False
            )
            found[todo[point_idx]] = pcodes[geom_idx]
        return found

    def locate_many(self, lons, lats) -> list[dict[str, str]]:
        """locate() for many points at once (shapely's vectorised STRtree query)."""
        empty = {"admin1_code": "", "admin2_code": "", "admin3_code": ""}
        out = []
        for pcode in self.locate_pcodes(lons, lats):
            out.append({**empty, **self.codes[pcode]} if pcode else dict(empty))
        return out
