"""A France-shaped cadastre for the growth curve (issue 17): real parcel shapes laid out
over twenty metropolitan départements and filed under their real communes.

    .venv/bin/python -m bench.france --parcels 1000000

The shapes are the five real Etalab communes shipped in ``data/cadastre/`` (Athis-Mons,
Épinay-sur-Orge, Juvisy-sur-Orge, Morangis, Paray-Vieille-Poste: 21,882 parcels). A
copy is one of these communes translated (in degrees, so a copy placed further south is
up to ~10 % wider in metres) to a cell of a grid laid over a département, the whole copy
inside the département's contour (``admin/contours-departements.geojson``). Each copy is
filed under a real current commune of that département (``admin/communes.json``; the
arrondissements for Paris, Lyon and Marseille, as the cadastre numbers them): for
the Ardennes and the Essonne, whose commune contours are shipped, the commune under the
cell's centre; elsewhere the département's communes in a seeded order. Ids are
``commune + prefixe + section + numero`` (14 characters), the prefixe counting the copies
filed under one commune, so they stay unique and well formed.

Parcels are shared among the départements by area; the cells of a département are taken
in a seeded order, so a smaller size is a prefix of a larger one. The output is one
Etalab-style file per département (``cadastre-91-parcelles.json``, one feature per line,
as the publisher writes them) under ``bench/out/france-<N>/``, with ``layout.json``
describing the copies; it is written once, copy by copy, from byte templates filled by
numpy (coordinates as fixed-width numbers, padded with JSON whitespace), and reused.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import shapely.geometry

from app.settings import PROJECT_DIR

DATA = PROJECT_DIR / "data"
OUT = PROJECT_DIR / "bench" / "out"
UNITS = ("91027", "91216", "91326", "91432", "91479")
# Spread over metropolitan France: north, west, south-west, south, east, centre; the
# Ardennes and the Essonne have commune contours, so copies there sit in their commune.
DEPARTEMENTS = (
    "08", "91", "59", "62", "76", "14", "35", "44", "49", "33",
    "31", "34", "13", "69", "38", "67", "57", "21", "45", "87",
)  # fmt: skip
SCALE = 10**7  # coordinates as integers of 1e-7 degree (Etalab's precision)
WIDTH = 10  # characters per number: "-4.1234567", " 2.3264631", "48.6797160"
MARGIN = 0.004  # degrees between neighbouring copies
SEED = 17


@dataclass
class Unit:
    """One source commune as a byte template: digits, commune and prefixe left blank."""

    code: str
    template: np.ndarray  # uint8, the features' lines
    line_ends: np.ndarray  # offset just past each feature's line (for a cut copy)
    numbers: np.ndarray  # start offset of each coordinate number (lon, lat, lon, ...)
    coords: np.ndarray  # int64 (n, 2), 1e-7 degrees
    communes: np.ndarray  # start offsets of the 5-character commune code
    prefixes: np.ndarray  # start offsets of the 3-character prefixe
    bbox: tuple[int, int, int, int]

    @property
    def parcels(self) -> int:
        return len(self.line_ends)


def _source(code: str) -> dict:
    for directory in (DATA / "cadastre", PROJECT_DIR.parent.parent / "shared/data/cadastre"):
        plain = directory / f"cadastre-{code}-parcelles.json"
        if plain.exists():
            return json.loads(plain.read_bytes())
        packed = plain.with_suffix(".json.gz")
        if packed.exists():
            return json.loads(gzip.decompress(packed.read_bytes()))
    raise FileNotFoundError(f"cadastre-{code}-parcelles.json(.gz) not in data/cadastre")


def load_unit(code: str) -> Unit:
    """The template: each feature on its line, with marks where copies differ."""
    parts: list[bytes] = []
    size = 0
    numbers: list[int] = []
    coords: list[tuple[int, int]] = []
    communes: list[int] = []
    prefixes: list[int] = []
    ends: list[int] = []
    blank = b" " * WIDTH

    def put(chunk: bytes) -> None:
        nonlocal size
        parts.append(chunk)
        size += len(chunk)

    def put_id(rest: str) -> None:
        communes.append(size + 1)
        prefixes.append(size + 6)
        put(b'"CCCCCPPP' + rest.encode() + b'"')

    for f in _source(code)["features"]:
        props = f["properties"]
        rest = props["id"][8:]
        put(b'{"type":"Feature","id":')
        put_id(rest)
        geometry = f["geometry"]
        put(b',"geometry":{"type":"' + geometry["type"].encode() + b'","coordinates":')
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        multi = geometry["type"] == "MultiPolygon"
        put(b"[" if multi else b"")
        for p, polygon in enumerate(polygons):
            put(b"," if p else b"")
            put(b"[")
            for r, ring in enumerate(polygon):
                put(b",[" if r else b"[")
                for v, (x, y) in enumerate(ring):
                    put(b",[" if v else b"[")
                    numbers.append(size)
                    put(blank + b",")
                    numbers.append(size)
                    put(blank + b"]")
                    coords.append((round(x * SCALE), round(y * SCALE)))
                put(b"]")
            put(b"]")
        put(b"]" if multi else b"")
        put(b'},"properties":{"id":')
        put_id(rest)
        put(b',"commune":"')
        communes.append(size)
        put(b'CCCCC","prefixe":"')
        prefixes.append(size)
        others = {k: v for k, v in props.items() if k not in ("id", "commune", "prefixe")}
        put(b'PPP",' + json.dumps(others, separators=(",", ":")).encode()[1:] + b"}")
        put(b",\n")
        ends.append(size)
    template = np.frombuffer(b"".join(parts), dtype=np.uint8).copy()
    xy = np.array(coords, dtype=np.int64)
    return Unit(
        code=code,
        template=template,
        line_ends=np.array(ends, dtype=np.int64),
        numbers=np.array(numbers, dtype=np.int64),
        coords=xy,
        communes=np.array(communes, dtype=np.int64),
        prefixes=np.array(prefixes, dtype=np.int64),
        bbox=(int(xy[:, 0].min()), int(xy[:, 1].min()), int(xy[:, 0].max()), int(xy[:, 1].max())),
    )


def digits(values: np.ndarray) -> np.ndarray:
    """Fixed-width decimal text of 1e-7 degree integers, one row of WIDTH bytes each."""
    negative = values < 0
    magnitude = np.abs(values)
    whole, frac = np.divmod(magnitude, SCALE)
    if (whole >= 100).any() or (negative & (whole >= 10)).any():
        raise ValueError("coordinates outside metropolitan France's range")
    out = np.empty((len(values), WIDTH), dtype=np.uint8)
    for k in range(7):
        out[:, WIDTH - 1 - k] = 48 + frac % 10
        frac //= 10
    out[:, 2] = ord(".")
    out[:, 1] = 48 + whole % 10
    tens = whole >= 10
    out[:, 0] = np.where(tens, 48 + whole // 10, np.where(negative, ord("-"), ord(" ")))
    return out


def render(unit: Unit, dx: int, dy: int, commune: str, prefixe: str, parcels: int) -> bytes:
    """One copy's lines: the unit moved by (dx, dy), filed under commune/prefixe."""
    buf = unit.template.copy()
    moved = unit.coords + np.array([dx, dy], dtype=np.int64)
    span = np.arange(WIDTH, dtype=np.int64)
    buf[unit.numbers[:, None] + span] = digits(moved.ravel())
    buf[unit.communes[:, None] + np.arange(5)] = np.frombuffer(commune.encode(), np.uint8)
    buf[unit.prefixes[:, None] + np.arange(3)] = np.frombuffer(prefixe.encode(), np.uint8)
    return buf[: unit.line_ends[parcels - 1]].tobytes()


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_bytes())["features"]


@dataclass
class Copy:
    """One source commune's parcels (the first ``parcels`` of them) moved by (dx, dy)
    1e-7 degrees and filed under ``commune`` with ``prefixe``."""

    departement: str
    commune: str
    prefixe: str
    unit: str
    dx: int
    dy: int
    parcels: int


def plan(parcels: int, departements: tuple[str, ...] = DEPARTEMENTS) -> list[Copy]:
    """Where each copy goes, for ``parcels`` parcels in all (the last copies cut)."""
    units = {code: _unit_box(code) for code in UNITS}
    admin = DATA / "admin"
    contours = {
        f["properties"]["code"]: shapely.geometry.shape(f["geometry"])
        for f in _features(admin / "contours-departements.geojson")
        if f["properties"]["code"] in departements
    }
    missing = set(departements) - set(contours)
    if missing:
        raise ValueError(f"no contour for département(s) {sorted(missing)}")
    # The cadastre numbers Paris, Lyon and Marseille by arrondissement: their parcels are
    # filed under the arrondissements, as Etalab publishes them.
    reference = json.loads((admin / "communes.json").read_bytes())
    split = {c["commune"] for c in reference if c["type"] == "arrondissement-municipal"}
    current: dict[str, list[str]] = {d: [] for d in departements}
    for c in reference:
        if c.get("departement") in current and (
            c["type"] == "arrondissement-municipal"
            or (c["type"] == "commune-actuelle" and c["code"] not in split)
        ):
            current[c["departement"]].append(c["code"])
    known = {code for codes in current.values() for code in codes}
    commune_shapes: dict[str, tuple[list[str], list[shapely.Geometry]]] = {}
    for path in sorted(admin.glob("contours-communes-*.geojson")):
        for f in _features(path):
            code = f["properties"]["code"]
            if code in known:
                codes, shapes = commune_shapes.setdefault(code[:2], ([], []))
                codes.append(code)
                shapes.append(shapely.geometry.shape(f["geometry"]))
    areas = {d: _area_km2(contours[d]) for d in departements}
    total_area = sum(areas.values())
    shares = {d: int(parcels * areas[d] / total_area) for d in departements}
    shares[departements[0]] += parcels - sum(shares.values())
    width = max(b[2] - b[0] for b, _ in units.values()) / SCALE + MARGIN
    height = max(b[3] - b[1] for b, _ in units.values()) / SCALE + MARGIN

    copies: list[Copy] = []
    for index, dep in enumerate(departements):
        rng = np.random.default_rng(SEED + index)
        contour = contours[dep]
        shapely.prepare(contour)
        x0, y0, x1, y1 = contour.bounds
        xs = np.arange(x0, x1 - width, width)
        ys = np.arange(y0, y1 - height, height)
        gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
        inside = shapely.contains(contour, shapely.box(gx, gy, gx + width, gy + height))
        cells = np.flatnonzero(inside)
        rng.shuffle(cells)
        communes = sorted(current[dep])
        order = list(rng.permutation(len(communes)))
        named = commune_shapes.get(dep)
        used: dict[str, int] = {}
        left = shares[dep]
        for k, cell in enumerate(cells):
            if left <= 0:
                break
            code = UNITS[k % len(UNITS)]
            (ux0, uy0, ux1, uy1), count = units[code]
            # the unit's box centred in the cell
            cx = gx[cell] + width / 2
            cy = gy[cell] + height / 2
            dx = round(cx * SCALE) - (ux0 + ux1) // 2
            dy = round(cy * SCALE) - (uy0 + uy1) // 2
            commune = None
            if named is not None:
                hits = np.flatnonzero(shapely.contains_xy(named[1], cx, cy))
                commune = named[0][hits[0]] if len(hits) else None
            if commune is None:
                commune = communes[order[k % len(order)]]
            prefixe = used.get(commune, 0)
            if prefixe > 999:
                raise ValueError(f"more than 1,000 copies under commune {commune}")
            used[commune] = prefixe + 1
            take = min(count, left)
            copies.append(Copy(dep, commune, f"{prefixe:03d}", code, dx, dy, take))
            left -= take
        if left > 0:
            raise ValueError(
                f"département {dep}: {len(cells)} cells hold {shares[dep] - left:,} of its "
                f"{shares[dep]:,} parcels; add départements to DEPARTEMENTS"
            )
    return copies


_UNIT_CACHE: dict[str, Unit] = {}


def unit(code: str) -> Unit:
    if code not in _UNIT_CACHE:
        _UNIT_CACHE[code] = load_unit(code)
    return _UNIT_CACHE[code]


def _unit_box(code: str) -> tuple[tuple[int, int, int, int], int]:
    u = unit(code)
    return u.bbox, u.parcels


def _area_km2(geometry: shapely.Geometry) -> float:
    from pyproj import Transformer

    project = Transformer.from_crs(4326, 2154, always_xy=True).transform
    lambert = shapely.transform(geometry, lambda xy: np.column_stack(project(xy[:, 0], xy[:, 1])))
    return float(shapely.area(lambert)) / 1e6


def output_dir(parcels: int) -> Path:
    return OUT / f"france-{parcels}"


def generate(parcels: int, directory: Path | None = None) -> Path:
    """The département files for ``parcels`` parcels, written once and reused."""
    directory = directory or output_dir(parcels)
    if (directory / "layout.json").exists():
        return directory
    copies = plan(parcels)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    by_dep: dict[str, list[Copy]] = {}
    for c in copies:
        by_dep.setdefault(c.departement, []).append(c)
    for dep, dep_copies in by_dep.items():
        with (tmp / f"cadastre-{dep}-parcelles.json").open("wb") as out:
            out.write(b'{"type":"FeatureCollection","features":[\n')
            for i, c in enumerate(dep_copies):
                text = render(unit(c.unit), c.dx, c.dy, c.commune, c.prefixe, c.parcels)
                if i == len(dep_copies) - 1:
                    text = text[:-2] + b"\n"  # no comma after the last feature
                out.write(text)
            out.write(b"]}\n")
    layout = {
        "parcels": parcels,
        "departements": sorted(by_dep),
        "copies": [c.__dict__ for c in copies],
    }
    (tmp / "layout.json").write_text(json.dumps(layout))
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
    return directory


def files(directory: Path) -> list[Path]:
    return sorted(directory.glob("cadastre-*-parcelles.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--plan-only", action="store_true", help="check the layout, write nothing")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.plan_only:
        copies = plan(args.parcels)
        print(f"{len(copies):,} copies, {sum(c.parcels for c in copies):,} parcels planned")
        return
    directory = generate(args.parcels)
    size = sum(p.stat().st_size for p in files(directory))
    print(
        f"{directory}: {len(files(directory))} files, {size / 1e6:,.0f} MB, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
