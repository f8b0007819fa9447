#!/usr/bin/env python3
"""Kafka interoperability check for incontra, written against the wire contract only.

A third-party client (confluent-kafka, i.e. librdkafka) writes `incontra.events.v1.Envelope`
messages, and a gRPC client watches the service until each one has taken effect:

  1. vacancies and candidacies are produced; a vacancy is visible when `MatchCandidates`
     for it stops answering NOT_FOUND, a candidate when it appears in the preselection
     list of the vacancy it was made to match (or, should that list be full, when
     `Explain` for the pair says eligible);
  2. then comunicazioni obbligatorie hire some of those candidates; a hire is visible when
     `Explain` says the worker is no longer available for that vacancy.

Latency is the time from the broker's delivery confirmation (`--via kafka`) or from handing
the envelope to the `Ingest` stream (`--via ingest`) to the first poll that sees the
effect. Polling is every `--poll-ms` per entity group, so latencies are upper bounds with
that resolution.

    python3 -m venv /root/.cache/incontra/venv
    /root/.cache/incontra/venv/bin/pip install -r scripts/requirements-test.txt
    PY=/root/.cache/incontra/venv/bin/python
    # before the Kafka consumer exists: the same events through Ingest
    $PY scripts/kafka_interop.py --via ingest --grpc 127.0.0.1:50051
    # produce only, and read the messages back with a consumer
    $PY scripts/kafka_interop.py --bootstrap 127.0.0.1:9092 --create-topics --produce-only --verify-readback
    # end to end: the service consuming the topics (incontra serve --kafka ...)
    $PY scripts/kafka_interop.py --bootstrap 127.0.0.1:9092 --grpc 127.0.0.1:50051

Prints one JSON line on stdout; exits 1 (with the reason on stderr) when an entity is not
visible within --max-latency-s, a message is not delivered, the service rejects an event,
or the run exceeds --timeout-s. Content is deterministic for a given --seed, --run-tag and
--as-of; ids and codici fiscali carry the run tag (new every run unless given), so reruns
against the same broker and data directory do not collide with earlier runs.

The content is built to pass every check of indexer/src/decode.rs (schema_version 1,
entity_version >= 1, non-empty ids of at most 128 bytes, ISTAT comune codes of Piemonte,
CP2011 code shape, hours ranges, codice fiscale layout and check character, employer name)
and the hard filters of the engine (open vacancy, availability, distance, contract, hours,
reserved quota), with --as-of as the day the service judges eligibility on: run the
service with the same --as-of, or both on today's date.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib
import json
import math
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

DEFAULT_TOPICS = {
    "vacancy": "incontra.vacancies.v1",
    "candidacy": "incontra.candidacies.v1",
    "co": "incontra.co.v1",
}
# Issued lists: written by the replicas, never by this producer; created with
# the others so a replica started on these topics can become ready.
LISTS_TOPIC = "incontra.lists.v1"
KINDS = ("vacancy", "candidacy", "co")


def log(msg: str) -> None:
    print(f"kafka_interop: {msg}", file=sys.stderr, flush=True)


class Fail(Exception):
    """A check failed: the message is printed and the exit code is 1."""


# ------------------------------------------------------------------ codice fiscale
# DM 23/12/1976, as engine/src/codice_fiscale.rs implements it (written again here
# so the check does not trust the code it checks).

MONTH_LETTERS = "ABCDEHLMPRST"
OMOCODIA_LETTERS = "LMNPQRSTUV"
ODD_VALUES = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10,
              22, 25, 24, 23]
# L = letter, D = digit or omocodia letter, M = month letter, C = check letter.
CF_LAYOUT = "LLLLLLDDMDDLDDDC"


def cf_check_character(first15: str) -> str:
    total = 0
    for i, ch in enumerate(first15):
        ordinal = ord(ch) - ord("0") if ch.isdigit() else ord(ch) - ord("A")
        total += ODD_VALUES[ordinal] if i % 2 == 0 else ordinal
    return chr(ord("A") + total % 26)


def _name_letters(name: str) -> list[str]:
    out = []
    for ch in unicodedata.normalize("NFKD", name.upper()):
        if "A" <= ch <= "Z":
            out.append(ch)
        elif ch == "Æ":
            out += ["A", "E"]
        elif ch == "Œ":
            out += ["O", "E"]
    return out


def _split(name: str) -> tuple[list[str], list[str]]:
    letters = _name_letters(name)
    return [c for c in letters if c not in "AEIOU"], [c for c in letters if c in "AEIOU"]


def _cvx(consonants: list[str], vowels: list[str]) -> str:
    return "".join((consonants + vowels + ["X", "X", "X"])[:3])


def cf_generate(family: str, given: str, year: int, month: int, day: int, female: bool,
                belfiore: str) -> str:
    fc, fv = _split(family)
    gc, gv = _split(given)
    given_part = gc[0] + gc[2] + gc[3] if len(gc) >= 4 else _cvx(gc, gv)
    body = (_cvx(fc, fv) + given_part + f"{year % 100:02d}" + MONTH_LETTERS[month - 1]
            + f"{day + 40 if female else day:02d}" + belfiore.upper())
    code = body + cf_check_character(body)
    problem = cf_problem(code)
    if problem:
        raise ValueError(f"generated codice fiscale {code} is invalid: {problem}")
    return code


def cf_problem(code: str) -> Optional[str]:
    """Why the service would reject this personal codice fiscale, or None."""
    if len(code) != 16:
        return "wrong length"
    if not code.isascii() or not code.isalnum() or code != code.upper():
        return "not uppercase ASCII alphanumeric"
    for i, (ch, slot) in enumerate(zip(code, CF_LAYOUT)):
        ok = {
            "L": ch.isalpha(),
            "C": ch.isalpha(),
            "D": ch.isdigit() or ch in OMOCODIA_LETTERS,
            "M": ch in MONTH_LETTERS,
        }[slot]
        if not ok:
            return f"bad character at position {i + 1}"

    def digit(ch: str) -> int:
        return int(ch) if ch.isdigit() else OMOCODIA_LETTERS.index(ch)

    d = digit(code[9]) * 10 + digit(code[10])
    if not (1 <= d <= 31 or 41 <= d <= 71):
        return "invalid day"
    if cf_check_character(code[:15]) != code[15]:
        return "bad check character"
    return None


def partita_iva(first_ten: int) -> str:
    digits = f"{first_ten % 10_000_000_000:010d}"
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return digits + str((10 - total % 10) % 10)


def self_test() -> None:
    """The published and engine-test vectors, so a wrong port fails loudly."""
    cases = [
        (("Rossi", "Mario", 1985, 12, 10, False, "A562"), "RSSMRA85T10A562S"),
        (("Rossi", "Maria", 1985, 12, 10, True, "A562"), "RSSMRA85T50A562W"),
        (("Fo", "Gianfranco", 2001, 1, 1, False, "F205"), "FOXGFR01A01F205K"),
        (("Bianchì", "Lùca", 1970, 8, 1, True, "h501"), "BNCLCU70M41H501J"),
    ]
    for a, want in cases:
        got = cf_generate(*a)
        assert got == want, (a, got, want)
    for fam, giv, prefix in [("D'Alembert", "Ugo", "DLMGUO"), ("De Luca", "Niccolò", "DLCNCL"),
                             ("", "Yu", "XXXYUX")]:
        assert cf_generate(fam, giv, 1990, 5, 5, False, "Z110")[:6] == prefix
    assert cf_problem("RSSMRA85T10A56NH") is None  # omocodia
    assert cf_problem("RSSMRA85T10A562A") == "bad check character"
    assert cf_problem("RSSMRA85F10A562S") is not None
    assert partita_iva(74_311_015) == "00743110157"
    assert partita_iva(1_234_567_890) == "12345678903"


# ------------------------------------------------------------------ reference data

@dataclass
class Comune:
    code: str
    name: str
    province: str
    lat: float
    lon: float
    cpi: str
    population: int


class Reference:
    def __init__(self, directory: str):
        self.comuni: dict[str, Comune] = {}
        with open(os.path.join(directory, "comuni_piemonte.csv"), newline="") as f:
            for r in csv.DictReader(f):
                self.comuni[r["istat_code"]] = Comune(
                    r["istat_code"], r["name"], r["province"], float(r["lat"]),
                    float(r["lon"]), r["cpi_code"], int(r["population"]))
        with open(os.path.join(directory, "cpi_piemonte.csv"), newline="") as f:
            self.cpi = {r["cpi_code"] for r in csv.DictReader(f)}
        with open(os.path.join(directory, "professions_cp2011.csv"), newline="") as f:
            self.professions = {r["code"] for r in csv.DictReader(f)}
        with open(os.path.join(directory, "ateco.csv"), newline="") as f:
            self.ateco = {r["code"] for r in csv.DictReader(f)}
        self.by_cpi: dict[str, list[Comune]] = {}
        for c in self.comuni.values():
            self.by_cpi.setdefault(c.cpi, []).append(c)

    def road_km(self, a: Comune, b: Comune) -> float:
        # engine/src/reference.rs haversine_km times config/scoring.toml road_factor.
        p1, p2 = math.radians(a.lat), math.radians(b.lat)
        dp, dl = math.radians(b.lat - a.lat), math.radians(b.lon - a.lon)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h))) * 1.25


# ------------------------------------------------------------------ catalogue
# A few professions as datagen/src/catalogue.rs describes them (real CP2011 and ATECO
# codes, Italian skill labels, CCNL), enough for vacancies and the people who fit them.

CONTRACT = {  # ContractType enum values of events.proto
    "IND": 1, "DET": 2, "SOM": 3, "APP": 4, "TIR": 5, "INT": 6, "STA": 7,
}
CONTRACT_CODE = {1: "A.01.00", 2: "A.02.00", 3: "A.02.00", 4: "A.03.08", 5: "C.01.00",
                 6: "A.05.02", 7: "A.02.01"}
OPEN_ENDED = {1, 4, 6}
EDU = {"LICENZA_MEDIA": 2, "QUALIFICA": 3, "DIPLOMA": 4}

CATALOGUE = [
    dict(code="5.2.2.1.0", noun=("cuoco", "cuoca"), sector="horeca",
         skills=["HACCP", "preparazione primi piatti", "preparazione secondi di carne e pesce",
                 "cucina piemontese tradizionale", "gestione della linea", "food cost",
                 "preparazione antipasti", "impiattamento", "gestione allergeni"],
         certifiable=["HACCP", "qualifica operatore della ristorazione"],
         education="QUALIFICA", languages=[], contracts=["DET", "DET", "IND", "STA", "APP"],
         hours=[100, 100, 75], pay=(1500, 2100), ccnl="CCNL Turismo - Pubblici Esercizi (FIPE)",
         ateco=["56.11", "55.10", "56.21"],
         titles=["Cuoco/a capo partita", "Cuoco/a per ristorante", "Cuoco/a per mensa aziendale"],
         duties=["preparazione di primi, secondi e contorni secondo il menù",
                 "gestione della propria partita durante il servizio",
                 "rispetto delle procedure HACCP e pulizia della cucina"],
         employers=["Trattoria Da {G}", "Ristorante {V}", "Osteria {V}", "Hotel {V}"]),
    dict(code="5.2.2.3.2", noun=("cameriere", "cameriera"), sector="horeca",
         skills=["servizio ai tavoli", "presa comande con palmare", "mise en place",
                 "conoscenza dei vini", "servizio al banco", "accoglienza clienti",
                 "gestione della cassa", "servizio banqueting", "HACCP"],
         certifiable=["HACCP", "attestato sommelier AIS primo livello"],
         education="LICENZA_MEDIA", languages=[("en", 2)],
         contracts=["DET", "DET", "STA", "INT", "IND"], hours=[100, 100, 75],
         pay=(1350, 1650), ccnl="CCNL Turismo - Pubblici Esercizi (FIPE)",
         ateco=["56.11", "55.10"],
         titles=["Cameriere/a di sala", "Commis di sala", "Cameriere/a per ristorante e pizzeria"],
         duties=["accoglienza dei clienti e servizio ai tavoli",
                 "allestimento della sala e mise en place",
                 "riordino della sala a fine servizio"],
         employers=["Ristorante {V}", "Pizzeria {V}", "Albergo {V}"]),
    dict(code="5.2.2.4.0", noun=("barista", "barista"), sector="horeca",
         skills=["preparazione caffetteria", "latte art", "preparazione cocktail",
                 "servizio al banco", "gestione della cassa", "preparazione aperitivi",
                 "HACCP", "accoglienza clienti"],
         certifiable=["HACCP", "attestato barista caffetteria"],
         education="LICENZA_MEDIA", languages=[("en", 2)],
         contracts=["DET", "APP", "IND", "INT"], hours=[100, 75, 75],
         pay=(1300, 1600), ccnl="CCNL Turismo - Pubblici Esercizi (FIPE)",
         ateco=["56.30", "56.11"],
         titles=["Barista", "Barista banconiere/a", "Addetto/a caffetteria"],
         duties=["preparazione di caffetteria, colazioni e aperitivi",
                 "servizio al banco e ai tavoli", "gestione della cassa e chiusura serale"],
         employers=["Bar {V}", "Caffè {V}"]),
    dict(code="5.1.2.2.0", noun=("commesso", "commessa"), sector="retail",
         skills=["vendita assistita", "allestimento scaffali", "gestione della cassa",
                 "visual merchandising", "gestione resi e cambi", "inventario",
                 "orientamento al cliente", "uso di gestionali di magazzino"],
         certifiable=["attestato addetto vendite"],
         education="DIPLOMA", languages=[("en", 2)],
         contracts=["DET", "DET", "IND", "SOM", "APP"], hours=[100, 75, 75],
         pay=(1350, 1650), ccnl="CCNL Commercio Terziario, Distribuzione e Servizi",
         ateco=["47.71", "47.11", "47.52"],
         titles=["Commesso/a di negozio", "Addetto/a alle vendite", "Sales assistant"],
         duties=["accoglienza e consulenza alla clientela",
                 "riassortimento e cura dell'esposizione",
                 "operazioni di cassa e gestione dei resi"],
         employers=["Supermercati {S}", "{S} Abbigliamento", "Emporio {V}"]),
    dict(code="8.1.3.2.0", noun=("magazziniere", "magazziniera"), sector="logistics",
         skills=["picking e packing", "uso del lettore barcode", "carico e scarico merci",
                 "uso del transpallet", "uso del muletto", "inventario", "preparazione ordini",
                 "etichettatura", "formazione sicurezza generale"],
         certifiable=["patentino carrellista", "formazione sicurezza generale"],
         education="LICENZA_MEDIA", languages=[],
         contracts=["SOM", "SOM", "DET", "IND"], hours=[100, 100, 75],
         pay=(1400, 1650), ccnl="CCNL Logistica, Trasporto Merci e Spedizione",
         ateco=["52.10", "52.24", "52.25"],
         titles=["Addetto/a magazzino", "Magazziniere/a", "Addetto/a carico e scarico merci"],
         duties=["preparazione degli ordini con lettore barcode", "carico e scarico dei mezzi",
                 "stoccaggio della merce e inventari"],
         employers=["Logistica {R}", "{S} Trasporti", "Magazzini {S}"]),
    dict(code="4.3.1.2.0", noun=("impiegato di magazzino", "impiegata di magazzino"),
         sector="logistics",
         skills=["uso di gestionali di magazzino", "gestione documenti di trasporto", "Excel",
                 "inventario", "gestione ordini fornitori", "pianificazione spedizioni", "SAP"],
         certifiable=["ECDL/ICDL"], education="DIPLOMA", languages=[("en", 3)],
         contracts=["DET", "IND", "SOM"], hours=[100, 100, 75],
         pay=(1550, 1900), ccnl="CCNL Logistica, Trasporto Merci e Spedizione",
         ateco=["52.10", "52.25", "52.21"],
         titles=["Impiegato/a logistica", "Addetto/a ufficio spedizioni"],
         duties=["emissione dei documenti di trasporto",
                 "organizzazione delle spedizioni con i vettori",
                 "gestione delle giacenze sul gestionale"],
         employers=["{R} Logistics", "Servizi Logistici {R}", "{S} Spedizioni"]),
]
SOFT_SKILLS = ["lavoro in team", "problem solving", "puntualità e affidabilità",
               "orientamento al cliente", "flessibilità oraria"]

MALE = ["Marco", "Luca", "Andrea", "Giuseppe", "Francesco", "Alessandro", "Matteo", "Davide",
        "Stefano", "Roberto", "Paolo", "Giovanni", "Simone", "Federico", "Fabio", "Massimo",
        "Daniele", "Riccardo", "Lorenzo", "Antonio", "Salvatore", "Michele", "Enrico",
        "Claudio", "Gabriele", "Nicola", "Mattia", "Alberto", "Pietro", "Giorgio", "Vincenzo",
        "Emanuele", "Domenico", "Tommaso", "Franco", "Sergio", "Mauro", "Walter", "Gianluca",
        "Cristian", "Edoardo", "Filippo", "Leonardo", "Diego", "Ivan", "Piero", "Renato",
        "Carlo", "Luigi", "Samuele"]
FEMALE = ["Giulia", "Francesca", "Chiara", "Sara", "Martina", "Valentina", "Elena", "Alessia",
          "Silvia", "Federica", "Laura", "Paola", "Elisa", "Anna", "Roberta", "Simona", "Monica",
          "Cristina", "Barbara", "Daniela", "Giorgia", "Alice", "Marta", "Serena", "Ilaria",
          "Beatrice", "Sofia", "Aurora", "Manuela", "Patrizia", "Rosa", "Maria", "Antonella",
          "Luisa", "Stefania", "Claudia", "Veronica", "Erika", "Debora", "Noemi", "Carla",
          "Lucia", "Emanuela", "Tiziana", "Marina", "Irene", "Camilla", "Arianna", "Nadia",
          "Loredana"]
FAMILY = ["Rossi", "Ferrero", "Russo", "Bianchi", "Colombo", "Bruno", "Romano", "Ricci",
          "Gallo", "Costa", "Fontana", "Conti", "Esposito", "Marino", "Greco", "Barbero", "Bosio",
          "Giordano", "Rizzo", "Lombardi", "Moretti", "Martini", "Ferrari", "Mancini", "Villa",
          "Serra", "Cavallo", "Caruso", "Fabbri", "Pellegrini", "Marchetti", "Gatti", "Testa",
          "Grasso", "Ferraris", "Bertolino", "Gribaudo", "Perotti", "Aimar", "Bertola",
          "Cravero", "Allasia", "Ghione", "Operti", "Rosso", "Bonino", "Olivero", "Fiore",
          "Sacco", "Vacchetta", "Botta", "Chiapello", "Giraudo", "Dalmasso", "Garelli", "Musso",
          "Viberti", "Rinaldi", "Lanza", "Vigna", "Bellino", "Actis", "Borgogno", "Pautasso",
          "Audisio", "Rabino", "Boero", "Arnaudo", "Quaglia", "Canale", "Coppola", "De Luca",
          "D'Angelo", "La Rosa", "Messina", "Amato", "Santoro", "Palumbo", "Longo", "Leone",
          "Mazza", "Sorrentino", "Vitale", "Calabrese", "Parisi", "Pace", "Cirillo", "Barone",
          "Catalano", "Di Stefano", "Caputo", "Ferro", "Marra", "Gentile", "Bergamasco",
          "Cerutti", "Borello", "Revelli", "Fassino", "Manfredi", "Valsania", "Tosco", "Peano",
          "Bottero", "Ravera", "Tealdi", "Molinari", "Sartori", "Zanetti", "Mossino", "Grosso",
          "Marengo", "Piras", "Zappalà", "Lo Presti", "Scarpa", "Morra", "Gili", "Ruffino",
          "Bussone"]
# Belfiore codes: Piemonte's main towns, then the South and the big cities.
BIRTHPLACES = ["L219", "L219", "L219", "F335", "H355", "E379", "G674", "D205", "A124", "A479",
               "A182", "B885", "F952", "L750", "A859", "L746", "F839", "G273", "A662", "H224",
               "C351", "D643", "D086", "H501", "F205", "D969"]
REGION_WORDS = ["Piemonte", "Subalpina", "Langhe", "Monferrato", "Canavese", "Sabauda",
                "Nord Ovest", "Torinese", "Roero", "Granda"]
VENUE_WORDS = ["Il Glicine", "La Pergola", "Del Borgo", "Il Castagno", "La Meridiana",
               "Il Porticato", "La Corte", "San Carlo", "Il Belvedere", "Al Mulino"]
VAT_OFFICE = {"TO": 1, "VC": 2, "NO": 3, "CN": 4, "AT": 5, "AL": 6, "BI": 96, "VB": 103}
MOBILE = ["320", "328", "333", "338", "340", "347", "348", "349", "351", "366", "380", "393"]


def ascii_fold(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s.lower())
                   if c.isascii() and c.isalnum())


# ------------------------------------------------------------------ the generated world

@dataclass
class Item:
    """One envelope, and what happened to it."""
    kind: str                 # vacancy | candidacy | co
    entity_id: str
    event_id: str
    envelope: Any
    label: str                # what the failure message names
    sent: Optional[float] = None      # kafka: produce() called (monotonic)
    base: Optional[float] = None      # delivery confirmed / handed to Ingest (monotonic)
    visible: Optional[float] = None
    error: Optional[str] = None       # failed check (or delivery, copied from below)
    delivery_error: Optional[str] = None
    note: Optional[str] = None        # last thing the checker saw, for failure messages
    partition: Optional[int] = None
    offset: Optional[int] = None
    # links
    vacancy: Optional["Item"] = None  # candidacy / co: the vacancy it matches
    candidate_id: Optional[str] = None  # co: the candidate (SAP id) hired

    @property
    def pending(self) -> bool:
        return self.visible is None and self.error is None

    def latency_ms(self) -> Optional[float]:
        if self.visible is None or self.base is None:
            return None
        return max(0.0, (self.visible - self.base) * 1000.0)


def day_number(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def office_ms(rng: random.Random, day: int) -> int:
    return day * 86_400_000 + rng.randrange(8 * 3600, 18 * 3600) * 1000 + rng.randrange(1000)


class World:
    """Vacancies, the candidates made to match them, and hires of some of them."""

    def __init__(self, ev, ref: Reference, seed: int, run_tag: str, as_of: dt.date,
                 n_vac: int, n_cand: int, n_co: int):
        self.ev = ev
        self.ref = ref
        self.seed = seed
        self.tag = run_tag.upper()
        self.today = day_number(as_of)
        self.vacancies: list[Item] = []
        self.candidacies: list[Item] = []
        self.hires: list[Item] = []
        self._vac_spec: list[dict] = []
        self._cfs: set[str] = set()
        for i in range(n_vac):
            self._vacancy(i)
        for i in range(n_cand):
            self._candidacy(i)
        for i in range(n_co):
            self._hire(i)

    def rng(self, *parts: Any) -> random.Random:
        # Python seeds a Random from a str through SHA-512: stable across runs and versions.
        return random.Random("/".join(str(p) for p in (self.seed,) + parts))

    def envelope(self, kind: str, index: int, entity_id: str, source: str, at_ms: int):
        return self.ev.Envelope(
            event_id=f"kinterop-{self.tag.lower()}-{kind}-{index}-1",
            entity_id=entity_id, entity_version=1, occurred_at_ms=at_ms, source=source,
            schema_version=1)

    def employer(self, rng: random.Random, prof: dict, province: str):
        pattern = rng.choice(prof["employers"])
        name = (pattern.replace("{S}", rng.choice(FAMILY)).replace("{G}", rng.choice(MALE))
                .replace("{V}", rng.choice(VENUE_WORDS)).replace("{R}", rng.choice(REGION_WORDS)))
        employees = rng.choice([3, 7, 12, 25, 40, 80, 150, 320])
        suffix = ("Snc" if employees < 10 else "Srl" if employees < 50
                  else rng.choice(["Srl", "Spa"]) if employees < 250 else "Spa")
        serial = rng.randrange(1_000_000, 9_999_999)
        return self.ev.Employer(
            fiscal_code=partita_iva(serial * 1000 + VAT_OFFICE.get(province, 1)),
            name=f"{name} {suffix}", ateco_code=rng.choice(prof["ateco"]), employees=employees)

    def _vacancy(self, i: int) -> None:
        ev, rng = self.ev, self.rng("vacancy", i)
        prof = CATALOGUE[i % len(CATALOGUE)]
        comuni = [c for c in self.ref.comuni.values() if c.population >= 3000]
        weights = [math.sqrt(c.population) for c in comuni]
        place = rng.choices(comuni, weights)[0]
        employer = self.employer(rng, prof, place.province)
        # Over half time, so a hire at the same hours leaves no room for this vacancy.
        hours = rng.choice([h for h in prof["hours"] if h > 50])
        contract = CONTRACT[rng.choice(prof["contracts"])]
        months = {2: rng.choice([3, 6, 12]), 3: rng.choice([3, 6]), 7: 4, 4: 36, 5: 6}.get(
            contract, 0)
        n_req = rng.randint(2, 3)
        skills = rng.sample(prof["skills"], n_req + 2)
        required, preferred = skills[:n_req], skills[n_req:]
        pay_full = rng.randint(*prof["pay"])
        pay = (pay_full * hours // 100 + 25) // 50 * 50
        published = self.today - rng.randint(1, 20)
        valid_until = published + rng.choice([45, 60, 90])
        title = rng.choice(prof["titles"])
        by_operator = rng.random() < 0.6
        duties = rng.sample(prof["duties"], 2)
        description = (
            f"{employer.name}, realtà del settore con sede a {place.name} ({place.province}), "
            f"cerca {title.lower()}. La risorsa si occuperà di {duties[0]} e di {duties[1]}. "
            f"Requisiti: conoscenza di {', '.join(required)}. Orario al {hours}%.")
        languages = [ev.LanguageRequirement(language=l, level=lv) for l, lv in prof["languages"]]
        spec = ev.Vacancy(
            title=title, description=description, employer=employer,
            workplace_comune=place.code, profession_code=prof["code"],
            required_skills=required, preferred_skills=preferred,
            min_education=EDU[prof["education"]] - (1 if rng.random() < 0.3 else 0),
            languages=languages, driving_licences=[],
            min_experience_months=rng.choice([0, 0, 6, 12]), contract_type=contract,
            contract_months=months, hours_percent=hours, shifts=rng.random() < 0.5,
            nights=False, weekends=prof["sector"] == "horeca",
            gross_monthly_pay_eur=pay, positions=rng.choice([1, 1, 2, 3]),
            reserved_quota=0, target_programme=1 if rng.random() < 0.12 else 0,
            valid_from_day=published, valid_until_day=valid_until,
            cpi_code=place.cpi if by_operator else "")
        entity_id = f"VK{self.tag}{i:04d}"
        env = self.envelope("vacancy", i, entity_id, "SILP" if by_operator else "BLP",
                            office_ms(rng, published))
        env.vacancy.published.CopyFrom(spec)
        item = Item("vacancy", entity_id, env.event_id, env, f"vacancy {entity_id}")
        self.vacancies.append(item)
        self._vac_spec.append(dict(prof=prof, place=place, spec=spec))

    def _person(self, i: int, max_age: int) -> tuple[str, str, bool, int, str]:
        # The identity depends on the run tag too: a rerun with the same seed must not
        # register the same person again (the service ignores a second candidacy of one
        # codice fiscale). Redrawn on a clash within the run.
        for attempt in range(100):
            rng = self.rng("person", self.tag, i, attempt)
            female = rng.random() < 0.586
            given = rng.choice(FEMALE if female else MALE)
            family = rng.choice(FAMILY)
            age = rng.randint(19, max_age)
            year = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + self.today).year - age
            month = rng.randint(1, 12)
            day = rng.randint(1, 28)
            cf = cf_generate(family, given, year, month, day, female, rng.choice(BIRTHPLACES))
            if cf not in self._cfs:
                self._cfs.add(cf)
                return given, family, female, age, cf
        raise RuntimeError("could not draw a unique codice fiscale")

    def _candidacy(self, i: int) -> None:
        ev, rng = self.ev, self.rng("candidacy", i)
        v = i % len(self.vacancies)
        vac, info = self.vacancies[v], self._vac_spec[v]
        prof, place, spec = info["prof"], info["place"], info["spec"]
        # Apprendistato is for people under 30.
        given, family, female, age, cf = self._person(i, 29 if spec.contract_type == 4 else 62)

        own_vehicle = rng.random() < 0.8
        max_km = 5 * (rng.randint(4, 12) if own_vehicle else rng.randint(2, 6))
        # Same CPI area, well inside their mobility limit (a margin against rounding).
        near = [c for c in self.ref.by_cpi[place.cpi]
                if self.ref.road_km(c, place) <= 0.8 * max_km] or [place]
        home = rng.choices(near, [math.sqrt(c.population) for c in near])[0]
        if rng.random() < 0.3:
            home = place

        skills = list(dict.fromkeys(list(spec.required_skills) + rng.sample(
            prof["skills"], 2) + rng.sample(SOFT_SKILLS, 1)))
        certified = [s for s in prof["certifiable"] if s in skills and rng.random() < 0.5]
        skills = [s for s in skills if s not in certified]
        exp_months = max(spec.min_experience_months, 6) + rng.randint(0, 48)
        noun = prof["noun"][1 if female else 0]
        accepted = sorted({1, 2, 3, spec.contract_type} | ({4} if age < 30 else set()))
        min_h = 50 if spec.hours_percent >= 50 else spec.hours_percent
        profile = ev.CandidateProfile(
            domicile_comune=home.code, max_distance_km=max_km, own_vehicle=own_vehicle,
            desired_professions=[prof["code"]],
            experience=[ev.WorkExperience(
                profession_code=prof["code"], ateco_code=rng.choice(prof["ateco"]),
                months=exp_months,
                description=f"{noun.capitalize()} per {exp_months} mesi: "
                            f"{rng.choice(prof['duties'])}.")],
            skills=skills, certified_skills=certified,
            education=max(spec.min_education, EDU[prof["education"]]),
            languages=[ev.LanguageRequirement(language="en", level=3)] if prof["languages"] else [],
            driving_licences=["B"] if own_vehicle else [],
            accepted_contracts=accepted, min_hours_percent=min_h, max_hours_percent=100,
            income_support=rng.choice([0, 1, 1, 3]), gol_path=rng.choice([0, 1, 2]),
            cpi_code=home.cpi, vulnerable=False,
            summary=(f"{'Candidata' if female else 'Candidato'} di {age} anni, con "
                     f"{exp_months} mesi di esperienza come {noun}; domicilio a {home.name}, "
                     f"disponibile a spostarsi entro {max_km} km."),
            monthly_benefit_eur=0)
        did_day = self.today - rng.randint(30, 300)
        personal = ev.PersonalData(
            codice_fiscale=cf, given_name=given, family_name=family,
            email=f"{ascii_fold(given)}.{ascii_fold(family)}{rng.randint(1, 99)}@example.org",
            phone=f"+39 {rng.choice(MOBILE)} {rng.randrange(1_000_000, 9_999_999)}")
        entity_id = f"SAPK{self.tag}{i:05d}"
        env = self.envelope("candidacy", i, entity_id, rng.choice(["SILP", "BLP"]),
                            office_ms(rng, did_day + rng.randint(0, 3)))
        env.candidacy.registered.CopyFrom(ev.CandidacyRegistered(
            personal=personal, did_day=did_day, profile=profile, protected_category=0))
        item = Item("candidacy", entity_id, env.event_id, env,
                    f"candidate {entity_id} for vacancy {vac.entity_id}", vacancy=vac)
        item.cf = cf  # type: ignore[attr-defined]
        self.candidacies.append(item)

    def _hire(self, i: int) -> None:
        ev, rng = self.ev, self.rng("co", i)
        cand = self.candidacies[i]
        vac = cand.vacancy
        assert vac is not None
        spec = self._vac_spec[self.vacancies.index(vac)]["spec"]
        cf = cand.cf  # type: ignore[attr-defined]
        start = self.today - rng.randint(1, 10)
        contract = spec.contract_type
        end = 0 if contract in OPEN_ENDED else start + max(spec.contract_months, 3) * 30
        yy = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + start).year % 100
        # Codice comunicazione: region 01, year, 12 digits unique to this run and hire.
        serial = int.from_bytes(self.tag.encode(), "big") * 10_007 + i
        code = f"01{yy:02d}{serial % 10**12:012d}"
        notice = ev.ComunicazioneObbligatoria(
            code=code, action=1, datore=spec.employer, workplace_comune=spec.workplace_comune,
            lavoratore_codice_fiscale=cf,
            assunzione=ev.Assunzione(
                start_day=start, end_day=end, contract_code=CONTRACT_CODE[contract],
                contract_type=contract, profession_code=spec.profession_code,
                ccnl=next(p["ccnl"] for p in CATALOGUE if p["code"] == spec.profession_code),
                hours_percent=spec.hours_percent))
        source = "COMMAX" if spec.employer.employees >= 250 else "GECO"
        env = self.envelope("co", i, cf, source, office_ms(rng, start - rng.randint(1, 3)))
        env.co.CopyFrom(notice)
        item = Item("co", cf, env.event_id, env,
                    f"hire {code} of candidate {cand.entity_id} for vacancy {vac.entity_id}",
                    vacancy=vac, candidate_id=cand.entity_id)
        self.hires.append(item)

    def check(self) -> None:
        """What decode.rs would reject, caught here first."""
        ids = set()
        for item in self.vacancies + self.candidacies + self.hires:
            e = item.envelope
            assert e.schema_version == 1 and e.entity_version >= 1
            assert 0 < len(e.event_id.encode()) <= 128 and 0 < len(e.entity_id.encode()) <= 128
            assert e.event_id not in ids, e.event_id
            ids.add(e.event_id)
            if item.kind == "vacancy":
                v = e.vacancy.published
                assert v.title.strip() and v.employer.name.strip()
                assert v.workplace_comune in self.ref.comuni
                assert v.profession_code in self.ref.professions
                assert v.employer.ateco_code in self.ref.ateco
                assert 1 <= v.hours_percent <= 100 and v.positions >= 1
                assert v.valid_until_day >= v.valid_from_day
                assert not v.cpi_code or v.cpi_code in self.ref.cpi
            elif item.kind == "candidacy":
                r = e.candidacy.registered
                assert cf_problem(r.personal.codice_fiscale) is None
                p = r.profile
                assert p.domicile_comune in self.ref.comuni and p.cpi_code in self.ref.cpi
                assert all(c in self.ref.professions for c in p.desired_professions)
                assert p.min_hours_percent <= p.max_hours_percent <= 100
            else:
                co = e.co
                assert cf_problem(e.entity_id) is None and e.entity_id == co.lavoratore_codice_fiscale
                assert len(co.code) == 16 and co.datore.name.strip()
                a = co.assunzione
                assert 1 <= a.hours_percent <= 100 and (a.end_day == 0 or a.end_day >= a.start_day)
                assert a.start_day <= self.today


# ------------------------------------------------------------------ protos

def compile_protos(proto_dir: str, out_dir: str):
    files = ["incontra/events/v1/events.proto", "incontra/match/v1/match.proto"]
    for f in files:
        if not os.path.exists(os.path.join(proto_dir, f)):
            raise Fail(f"{f} not found under --proto-dir {proto_dir}")
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}",
           f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *files]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail(f"protoc failed: {r.stderr.strip()}")
    sys.path.insert(0, out_dir)
    # `match` is a (soft) keyword: import the generated modules by name, not by statement.
    events = importlib.import_module("incontra.events.v1.events_pb2")
    match = importlib.import_module("incontra.match.v1.match_pb2")
    match_grpc = importlib.import_module("incontra.match.v1.match_pb2_grpc")
    return events, match, match_grpc


# ------------------------------------------------------------------ senders

class KafkaSender:
    def __init__(self, args, topics: dict[str, str]):
        from confluent_kafka import Producer
        self.topics = topics
        self.delivery_timeout = args.delivery_timeout_s
        self.producer = Producer({
            "bootstrap.servers": args.bootstrap,
            "acks": "all",
            "client.id": "incontra-kafka-interop",
            "message.timeout.ms": int(args.delivery_timeout_s * 1000),
            "linger.ms": 2,
        })
        self._stop = threading.Event()
        # Delivery callbacks run inside poll(): a thread of their own keeps the recorded
        # confirmation times close to the broker's answers.
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.005)

    def send(self, items: list[Item]) -> None:
        for item in items:
            def on_delivery(err, msg, item=item):
                now = time.monotonic()
                if err is not None:
                    item.delivery_error = f"not delivered to {msg.topic()}: {err}"
                    item.error = item.error or item.delivery_error
                else:
                    item.base = now
                    item.partition, item.offset = msg.partition(), msg.offset()
            item.sent = time.monotonic()
            while True:
                try:
                    self.producer.produce(
                        self.topics[item.kind], key=item.entity_id.encode("utf-8"),
                        value=item.envelope.SerializeToString(), on_delivery=on_delivery)
                    break
                except BufferError:
                    time.sleep(0.01)

    def wait_delivered(self, items: list[Item]) -> None:
        deadline = time.monotonic() + self.delivery_timeout + 5
        while any(i.base is None and i.delivery_error is None for i in items):
            if time.monotonic() > deadline:
                for i in items:
                    if i.base is None and i.delivery_error is None:
                        i.delivery_error = "no delivery report"
                        i.error = i.error or i.delivery_error
                break
            time.sleep(0.005)
        failed = [i for i in items if i.delivery_error]
        if failed:
            raise Fail(f"{len(failed)} of {len(items)} messages not delivered; first: "
                       f"{failed[0].label}: {failed[0].delivery_error}")

    def close(self) -> None:
        self.producer.flush(5)
        self._stop.set()
        self._poller.join()


class IngestSender:
    """The same envelopes through the client-streaming Ingest RPC, one call per phase."""

    def __init__(self, stub, timeout_s: float):
        self.stub = stub
        self.timeout_s = timeout_s
        self.calls: list[tuple[list[Item], Any]] = []

    def send(self, items: list[Item]) -> None:
        def stream():
            for item in items:
                item.base = time.monotonic()
                yield item.envelope
        self.calls.append((items, self.stub.Ingest.future(stream(), timeout=self.timeout_s)))

    def wait_delivered(self, items: list[Item]) -> None:
        pass  # base is set as each envelope is handed over

    def check_responses(self) -> dict:
        """Waits for the Ingest calls made so far; fails on any rejected, ignored or
        deduplicated event (every event of a run is new and valid)."""
        totals = {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 0}
        for items, fut in self.calls:
            try:
                r = fut.result()
            except Exception as e:  # grpc.RpcError
                raise Fail(f"Ingest failed: {describe_rpc_error(e)}")
            totals["accepted"] += r.accepted
            totals["duplicates"] += r.duplicates
            totals["ignored"] += r.ignored
            totals["rejected"] += len(r.rejected)
            if r.rejected:
                first = r.rejected[0]
                raise Fail(f"Ingest rejected {len(r.rejected)} events; first: {first.event_id}: "
                           f"{first.reason}")
            if r.ignored or r.duplicates:
                why = r.ignored_reasons[0].reason if r.ignored_reasons else "duplicate/stale"
                raise Fail(f"Ingest ignored {r.ignored} and deduplicated {r.duplicates} of "
                           f"{len(items)} events (an earlier run with the same --run-tag?); "
                           f"first: {why}")
        return totals

    def close(self) -> None:
        pass


def describe_rpc_error(e: Exception) -> str:
    code = getattr(e, "code", None)
    details = getattr(e, "details", None)
    if callable(code) and callable(details):
        return f"{code().name}: {details()}"
    return repr(e)


# ------------------------------------------------------------------ visibility checker

class Checker:
    """Polls the service until each item's effect shows, at most one call in flight per
    probe and one call per probe every poll interval."""

    def __init__(self, grpc_mod, match, stub, args):
        self.grpc = grpc_mod
        self.match = match
        self.stub = stub
        self.interval = args.poll_ms / 1000.0
        self.max_latency = args.max_latency_s
        self.rpc_timeout = max(2.0, args.max_latency_s)
        self.list_limit = args.list_limit
        self.max_inflight = args.max_inflight
        self.inflight = 0
        self.done: "queue.Queue[tuple[Any, float, Any]]" = queue.Queue()
        # What the polling achieved: calls, and the mean gap between two calls of one probe
        # (the resolution of the latencies; larger than --poll-ms when the machine lags).
        self.calls = 0
        self.gaps_s = 0.0
        self.gaps = 0

    def stats(self) -> dict:
        return {"rpcs": self.calls,
                "mean_poll_gap_ms": round(1000 * self.gaps_s / self.gaps, 1) if self.gaps else None}

    def _call(self, probe: dict, method, request) -> None:
        now = time.monotonic()
        if probe["sent"] > 0:
            self.gaps_s += now - probe["sent"]
            self.gaps += 1
        probe["sent"] = now
        self.calls += 1
        self.inflight += 1
        fut = method.future(request, timeout=self.rpc_timeout)
        probe["inflight"] = fut
        fut.add_done_callback(lambda f, p=probe: self.done.put((p, time.monotonic(), f)))

    def wait(self, items: list[Item], hard_deadline: float, phase: str) -> None:
        """Phase 'entities': vacancy and candidacy items; phase 'hires': co items."""
        probes: list[dict] = []
        if phase == "entities":
            by_vac: dict[str, dict] = {}
            for it in items:
                if it.kind == "vacancy":
                    by_vac[it.entity_id] = {"type": "list", "vacancy": it, "cands": [],
                                            "inflight": None, "sent": -1e9}
            for it in items:
                if it.kind == "candidacy":
                    assert it.vacancy is not None
                    by_vac[it.vacancy.entity_id]["cands"].append(it)
            probes = list(by_vac.values())
            self.explain_probes: dict[str, dict] = {}
        else:
            for it in items:
                probes.append({"type": "hire", "item": it, "inflight": None, "sent": -1e9})

        def pending_items(p: dict) -> list[Item]:
            if p["type"] == "list":
                return [i for i in [p["vacancy"]] + p["cands"] if i.pending]
            return [p["item"]] if p["item"].pending else []

        all_probes = probes
        while True:
            now = time.monotonic()
            for it in items:
                if it.pending and it.base is not None and now - it.base > self.max_latency:
                    it.error = (f"not visible within {self.max_latency:g} s"
                                + (f" (last seen: {it.note})" if it.note else ""))
            if not any(i.pending for i in items):
                break
            if now > hard_deadline:
                for it in items:
                    if it.pending:
                        it.error = "run time limit (--timeout-s) reached" + (
                            "" if it.base is not None else " before delivery")
                break
            # Results.
            while True:
                try:
                    probe, t, fut = self.done.get_nowait()
                except queue.Empty:
                    break
                probe["inflight"] = None
                self.inflight -= 1
                self._handle(probe, t, fut)
            # New calls.
            if phase == "entities":
                all_probes = probes + list(self.explain_probes.values())
            # Longest-waiting first, at most max_inflight calls at once.
            for p in sorted(all_probes, key=lambda p: p["sent"]):
                if self.inflight >= self.max_inflight:
                    break
                if p["inflight"] is not None or now - p["sent"] < self.interval:
                    continue
                pend = pending_items(p)
                if not pend:
                    continue
                if p["type"] == "list":
                    vac = p["vacancy"]
                    # Until the vacancy is delivered, its list cannot exist.
                    if vac.base is None and vac.visible is None:
                        continue
                    self._call(p, self.stub.MatchCandidates, self.match.MatchCandidatesRequest(
                        vacancy_id=vac.entity_id, limit=self.list_limit))
                else:
                    it = p["item"]
                    if it.base is None:
                        continue
                    assert it.vacancy is not None
                    cand_id = it.candidate_id if it.kind == "co" else it.entity_id
                    self._call(p, self.stub.Explain, self.match.ExplainRequest(
                        vacancy_id=it.vacancy.entity_id, candidate_id=cand_id))
            time.sleep(0.002)
        # Let calls still in flight finish quietly.
        for p in all_probes:
            f = p.get("inflight")
            if f is not None:
                f.cancel()
        # Answers of cancelled or late calls are drained here, not in the next phase.
        deadline = time.monotonic() + 2
        while self.inflight > 0 and time.monotonic() < deadline:
            try:
                probe, _, _ = self.done.get(timeout=0.05)
            except queue.Empty:
                continue
            probe["inflight"] = None
            self.inflight -= 1

    def _handle(self, probe: dict, t: float, fut) -> None:
        try:
            resp = fut.result()
        except self.grpc.FutureCancelledError:
            return
        except self.grpc.RpcError as e:
            note = describe_rpc_error(e)
            code = e.code()
            for it in ([probe["vacancy"]] + probe["cands"] if probe["type"] == "list"
                       else [probe["item"]]):
                if it.pending:
                    it.note = note
            if code not in (self.grpc.StatusCode.NOT_FOUND, self.grpc.StatusCode.UNAVAILABLE,
                            self.grpc.StatusCode.DEADLINE_EXCEEDED):
                log(f"unexpected answer while polling: {note}")
            return
        if probe["type"] == "list":
            vac = probe["vacancy"]
            if vac.pending:
                vac.visible = t
            listed = {m.candidate_id for m in resp.matches}
            full = len(resp.matches) >= self.list_limit
            for c in probe["cands"]:
                if not c.pending or c.base is None:
                    continue
                if c.entity_id in listed:
                    c.visible = t
                elif full and c.entity_id not in self.explain_probes:
                    # Beyond the top of a full list: ask about the pair instead.
                    self.explain_probes[c.entity_id] = {
                        "type": "explain", "item": c, "inflight": None, "sent": -1e9}
                else:
                    c.note = (f"not in the {len(resp.matches)}-candidate list of "
                              f"{vac.entity_id}")
            return
        it = probe["item"]
        failed = [f for f in resp.filters if not f.passed]
        if probe["type"] == "explain":  # candidate beyond a full list
            if resp.eligible:
                it.visible = t
            else:
                it.note = "not eligible: " + "; ".join(f"{f.filter}: {f.reason}" for f in failed)
            return
        # A hire: the worker must have become unavailable for the vacancy.
        if not resp.eligible and any(f.filter == "availability" for f in failed):
            it.visible = t
        elif resp.eligible:
            it.note = "still eligible"
        else:
            it.note = "not eligible for another reason: " + "; ".join(
                f"{f.filter}: {f.reason}" for f in failed)

    def diagnose(self, items: list[Item]) -> None:
        """Why each failed candidate is missing, asked once after the fact."""
        for it in items:
            if it.kind != "candidacy" or it.visible is not None or it.vacancy is None:
                continue
            try:
                r = self.stub.Explain(self.match.ExplainRequest(
                    vacancy_id=it.vacancy.entity_id, candidate_id=it.entity_id), timeout=5)
                failed = [f"{f.filter}: {f.reason}" for f in r.filters if not f.passed]
                it.error = (it.error or "") + (
                    f"; Explain now: eligible={r.eligible}"
                    + (f" ({'; '.join(failed)})" if failed else ""))
            except self.grpc.RpcError as e:
                it.error = (it.error or "") + f"; Explain now: {describe_rpc_error(e)}"


# ------------------------------------------------------------------ Kafka extras

def create_topics(args, topics: dict[str, str]) -> None:
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=args.partitions, replication_factor=1)
         for t in [*topics.values(), LISTS_TOPIC]], request_timeout=15)
    for name, fut in futures.items():
        try:
            fut.result(timeout=20)
            log(f"created topic {name} ({args.partitions} partitions)")
        except Exception as e:
            err = e.args[0] if e.args else None
            if getattr(err, "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
                log(f"topic {name} already exists")
            else:
                raise Fail(f"creating topic {name}: {e}")


def verify_readback(args, topics: dict[str, str], items: list[Item]) -> dict:
    """Reads our messages back from the partitions and offsets the broker reported."""
    from confluent_kafka import Consumer, TopicPartition
    expected: dict[tuple[str, int, int], Item] = {}
    for it in items:
        if it.partition is not None and it.offset is not None:
            expected[(topics[it.kind], it.partition, it.offset)] = it
    first: dict[tuple[str, int], int] = {}
    last: dict[tuple[str, int], int] = {}
    for (t, p, o) in expected:
        first[(t, p)] = min(o, first.get((t, p), o))
        last[(t, p)] = max(o, last.get((t, p), o))
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": f"incontra-kafka-interop-readback-{args.run_tag}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
    })
    consumer.assign([TopicPartition(t, p, o) for (t, p), o in first.items()])
    seen: set[tuple[str, int, int]] = set()
    mismatches: list[str] = []
    redelivered = 0
    deadline = time.monotonic() + 30
    done_parts: set[tuple[str, int]] = set()
    try:
        while len(done_parts) < len(first) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise Fail(f"readback consumer error: {msg.error()}")
            key = (msg.topic(), msg.partition(), msg.offset())
            if (msg.topic(), msg.partition()) in first and msg.offset() >= last[
                    (msg.topic(), msg.partition())]:
                done_parts.add((msg.topic(), msg.partition()))
            it = expected.get(key)
            if it is None:
                continue
            if key in seen:
                redelivered += 1
            seen.add(key)
            if msg.key() != it.entity_id.encode("utf-8"):
                mismatches.append(f"{key}: key {msg.key()!r} != {it.entity_id!r}")
            elif msg.value() != it.envelope.SerializeToString():
                mismatches.append(f"{key}: value differs from what was produced")
            else:
                back = type(it.envelope).FromString(msg.value())
                if back.event_id != it.event_id:
                    mismatches.append(f"{key}: event_id {back.event_id} != {it.event_id}")
    finally:
        consumer.close()
    missing = len(expected) - len(seen)
    parts = sorted({f"{t}[{p}]" for (t, p) in first})
    log(f"readback: {len(seen) - len(mismatches)}/{len(items)} messages read back identical "
        f"(key, value, event_id) from {len(parts)} partitions: {', '.join(parts)}"
        + (f"; {redelivered} delivered again at the same offset" if redelivered else ""))
    if missing or mismatches or len(expected) != len(items):
        raise Fail(f"readback: {missing} missing, {len(mismatches)} different"
                   + (f"; first: {mismatches[0]}" if mismatches else ""))
    by_topic: dict[str, int] = {}
    for (t, _, _) in seen:
        by_topic[t] = by_topic.get(t, 0) + 1
    return {"matched": len(seen), "expected": len(items), "redelivered": redelivered,
            "by_topic": by_topic, "partitions": parts}


def status_summary(r) -> dict:
    out = {"events_applied": r.events_applied, "events_ignored": r.events_ignored,
           "candidates": r.candidates, "vacancies": r.vacancies}
    # GetStatus.source (Kafka lag, dead letters) exists in newer protos only.
    if "source" in r.DESCRIPTOR.fields_by_name and r.HasField("source"):
        src = r.source
        out["source"] = {"kind": src.kind, "caught_up": src.caught_up, "lag": src.lag,
                         "consumed": src.consumed, "dead_lettered": src.dead_lettered,
                         "last_error": src.last_error}
    return out


# ------------------------------------------------------------------ statistics

def percentile(sorted_values: list[float], q: float) -> Optional[float]:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))  # nearest rank
    return round(sorted_values[rank - 1], 1)


def summarise(items: list[Item]) -> dict:
    lat = sorted(x for x in (i.latency_ms() for i in items) if x is not None)
    return {
        "produced": len(items),
        "visible": sum(1 for i in items if i.visible is not None),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": round(lat[-1], 1) if lat else None,
    }


# ------------------------------------------------------------------ main

class _Help(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Produce incontra events with a third-party Kafka client (or Ingest) and "
                    "measure how long the service takes to show them.",
        formatter_class=_Help)
    p.add_argument("--via", choices=["kafka", "ingest"], default="kafka",
                   help="kafka: produce to the topics; ingest: the Ingest RPC (no Kafka)")
    p.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap.servers")
    p.add_argument("--grpc", default="127.0.0.1:50051", help="the service's gRPC address")
    p.add_argument("--topic-vacancies", default=DEFAULT_TOPICS["vacancy"])
    p.add_argument("--topic-candidacies", default=DEFAULT_TOPICS["candidacy"])
    p.add_argument("--topic-co", default=DEFAULT_TOPICS["co"])
    p.add_argument("--create-topics", action="store_true",
                   help="create the three topics first (AdminClient; existing ones are kept)")
    p.add_argument("--partitions", type=int, default=3, help="partitions of created topics")
    p.add_argument("--produce-only", action="store_true",
                   help="kafka: produce all three phases without asking the service anything")
    p.add_argument("--verify-readback", action="store_true",
                   help="kafka: read the produced messages back with a consumer and compare")
    p.add_argument("--events-per-kind", type=int, default=None, metavar="N",
                   help="shorthand: N vacancies, N candidacies and N hires (the flags "
                        "below win when given)")
    p.add_argument("--vacancies", type=int, default=None, help="vacancies (default 20)")
    p.add_argument("--candidacies", type=int, default=None,
                   help="candidacies, spread over the vacancies (default 100)")
    p.add_argument("--co-hires", type=int, default=None,
                   help="CO hires of the first candidacies (default 20, at most --candidacies)")
    p.add_argument("--seed", type=int, default=1, help="content seed")
    p.add_argument("--run-tag", default=None,
                   help="goes into every id and codice fiscale (default: new each run)")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD",
                   help="the service's eligibility day (its --as-of; default today, UTC)")
    p.add_argument("--max-latency-s", type=float, default=2.0,
                   help="fail when an entity takes longer than this to become visible")
    p.add_argument("--timeout-s", type=float, default=120.0, help="bound on the whole run")
    p.add_argument("--delivery-timeout-s", type=float, default=15.0,
                   help="kafka: message.timeout.ms of the producer")
    p.add_argument("--poll-ms", type=float, default=20.0,
                   help="interval between polls of one vacancy list or hire")
    p.add_argument("--list-limit", type=int, default=100,
                   help="MatchCandidates limit; a candidate missing from a full list is "
                        "asked about with Explain")
    p.add_argument("--max-inflight", type=int, default=16,
                   help="polling calls in flight at once, over all probes")
    p.add_argument("--proto-dir", default=os.path.join(REPO, "proto"))
    p.add_argument("--reference-dir", default=os.path.join(REPO, "data", "reference"))
    p.add_argument("--self-test", action="store_true",
                   help="check the codice fiscale and partita IVA code against known values "
                        "and exit")
    a = p.parse_args(argv)
    n = a.events_per_kind
    a.vacancies = a.vacancies if a.vacancies is not None else (n if n is not None else 20)
    a.candidacies = a.candidacies if a.candidacies is not None else (n if n is not None else 100)
    a.co_hires = a.co_hires if a.co_hires is not None else (n if n is not None else 20)
    if a.vacancies < 1 or a.candidacies < 0 or a.co_hires < 0:
        p.error("sizes must be positive (at least one vacancy)")
    if a.co_hires > a.candidacies:
        p.error("--co-hires cannot exceed --candidacies")
    if a.run_tag is None:
        a.run_tag = base36(int(time.time() * 1000) % 36**8).rjust(8, "0")
    if not a.run_tag.isascii() or not a.run_tag.isalnum() or len(a.run_tag) > 16:
        p.error("--run-tag: up to 16 ASCII letters and digits")
    try:
        a.as_of_date = (dt.date.fromisoformat(a.as_of) if a.as_of
                        else dt.datetime.now(dt.timezone.utc).date())
    except ValueError:
        p.error("--as-of: expected YYYY-MM-DD")
    if a.via == "ingest" and (a.produce_only or a.verify_readback or a.create_topics):
        p.error("--produce-only, --verify-readback and --create-topics need --via kafka")
    return a


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    hard_deadline = started + args.timeout_s
    topics = {"vacancy": args.topic_vacancies, "candidacy": args.topic_candidacies,
              "co": args.topic_co}
    tmp = tempfile.mkdtemp(prefix="kafka-interop-pb-")
    result: dict[str, Any] = {"via": args.via, "run_tag": args.run_tag, "seed": args.seed,
                              "as_of": args.as_of_date.isoformat()}
    items: list[Item] = []
    sender = None
    checker = None
    failure: Optional[str] = None
    try:
        events, match, match_grpc = compile_protos(args.proto_dir, tmp)
        ref = Reference(args.reference_dir)
        world = World(events, ref, args.seed, args.run_tag, args.as_of_date,
                      args.vacancies, args.candidacies, args.co_hires)
        world.check()
        phase1 = world.vacancies + world.candidacies
        phase2 = world.hires
        items = phase1 + phase2
        log(f"run {args.run_tag}: {len(world.vacancies)} vacancies, {len(world.candidacies)} "
            f"candidacies, {len(world.hires)} CO hires, as of {args.as_of_date}, via {args.via}")

        stub = None
        if not args.produce_only:
            import grpc
            channel = grpc.insecure_channel(args.grpc)
            try:
                grpc.channel_ready_future(channel).result(timeout=10)
            except grpc.FutureTimeoutError:
                raise Fail(f"cannot reach the service at {args.grpc}")
            stub = match_grpc.MatchServiceStub(channel)
            result["status_before"] = status_summary(
                stub.GetStatus(match.GetStatusRequest(), timeout=10))
            checker = Checker(grpc, match, stub, args)

        if args.via == "kafka":
            if args.create_topics:
                create_topics(args, topics)
            sender = KafkaSender(args, topics)
        else:
            sender = IngestSender(stub, args.timeout_s)

        # Phase 1: vacancies and candidacies.
        sender.send(phase1)
        if checker is not None:
            checker.wait(phase1, hard_deadline, "entities")
        sender.wait_delivered(phase1)
        if isinstance(sender, IngestSender):
            sender.check_responses()  # a rejection explains a missing entity best
        if checker is not None:
            bad = [i for i in phase1 if i.error]
            if bad:
                checker.diagnose(bad)
                raise Fail(f"{len(bad)} of {len(phase1)} vacancies/candidacies not visible; "
                           f"first: {bad[0].label}: {bad[0].error}")
        # Phase 2: the hires, once every candidate they concern is visible.
        if phase2:
            sender.send(phase2)
            if checker is not None:
                checker.wait(phase2, hard_deadline, "hires")
            sender.wait_delivered(phase2)
            if isinstance(sender, IngestSender):
                sender.check_responses()
            bad = [i for i in phase2 if i.error]
            if bad:
                hint = ""
                if all(i.note == "still eligible" for i in bad):
                    hint = (" (a hire counts from its start day: does the service judge "
                            f"eligibility on --as-of {args.as_of_date}?)")
                raise Fail(f"{len(bad)} of {len(phase2)} CO hires not visible; first: "
                           f"{bad[0].label}: {bad[0].error}{hint}")
        if isinstance(sender, IngestSender):
            result["ingest"] = sender.check_responses()
        if args.verify_readback:
            result["readback"] = verify_readback(args, topics, items)
    except Fail as e:
        failure = str(e)
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        if sender is not None:
            try:
                sender.close()
            except Exception as e:  # closing must not hide the result
                log(f"closing the sender: {e}")
        shutil.rmtree(tmp, ignore_errors=True)
    if checker is not None:
        result["checker"] = checker.stats()
        try:
            result["status_after"] = status_summary(
                checker.stub.GetStatus(checker.match.GetStatusRequest(), timeout=10))
        except Exception as e:  # grpc.RpcError; the run's verdict stands
            log(f"GetStatus after the run: {describe_rpc_error(e)}")
        # A consumer that dead-letters our events explains missing entities.
        src_b = result.get("status_before", {}).get("source") or {}
        src_a = result.get("status_after", {}).get("source") or {}
        dead = src_a.get("dead_lettered", 0) - src_b.get("dead_lettered", 0)
        if failure is not None and (dead > 0 or src_a.get("last_error")):
            failure += (f" [service source: {dead} messages dead-lettered during the run, "
                        f"lag {src_a.get('lag')}, last_error {src_a.get('last_error')!r}]")

    summary = summarise(items)
    if args.produce_only:
        summary["visible"] = None
        summary["delivered"] = sum(1 for i in items if i.base is not None)
    out = dict(summary)
    out["by_kind"] = {k: summarise([i for i in items if i.kind == k]) for k in KINDS}
    if args.produce_only:
        for k in KINDS:
            out["by_kind"][k]["visible"] = None
    if args.via == "kafka":
        # produce() to delivery confirmation (acks=all), for reference.
        d = sorted((i.base - i.sent) * 1000 for i in items if i.base and i.sent)
        out["delivery_ms"] = {"p50": percentile(d, 50), "p99": percentile(d, 99),
                              "max": round(d[-1], 1) if d else None}
    out.update(result)
    out["elapsed_s"] = round(time.monotonic() - started, 3)
    out["ok"] = failure is None
    if failure is not None:
        out["error"] = failure
    print(json.dumps(out, ensure_ascii=False), flush=True)
    if failure is not None:
        log(f"FAILED: {failure}")
        return 1
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    self_test()
    if args.self_test:
        log("codice fiscale and partita IVA self-test passed")
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
