//! Reference data of Piedmont's employment services: the ISTAT comuni of Piemonte with
//! coordinates and their CPI (Centro per l'impiego) catchment, the 30 CPIs, the ISTAT CP2011
//! professions and the ATECO activity tree.
//!
//! The tables are compiled into the binary (`include_str!`) so that matching never depends on
//! files being deployed next to it, and they are validated once at start-up so that a bad
//! regeneration (`scripts/derive_reference.py`) fails loudly instead of skewing distances or
//! labels. Sources, licences and approximations are in `data/reference/SOURCES.md`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

const COMUNI_CSV: &str = include_str!("../../data/reference/comuni_piemonte.csv");
const CPI_CSV: &str = include_str!("../../data/reference/cpi_piemonte.csv");
const PROFESSIONS_CSV: &str = include_str!("../../data/reference/professions_cp2011.csv");
const ATECO_CSV: &str = include_str!("../../data/reference/ateco.csv");

/// Piemonte's bounding box with a small margin: a coordinate outside it means a wrong join.
const LAT_RANGE: (f64, f64) = (44.0, 46.5);
const LON_RANGE: (f64, f64) = (6.5, 9.3);
const PROVINCES: [&str; 8] = ["TO", "VC", "NO", "CN", "AT", "AL", "BI", "VB"];

/// A comune of Piemonte, keyed by its 6-digit ISTAT code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comune {
    pub istat_code: String,
    pub name: String,
    pub province: String,
    pub lat: f64,
    pub lon: f64,
    pub cpi_code: String,
    pub population: u32,
}

/// A Centro per l'impiego with the official catchment figures (31.12.2021).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cpi {
    pub code: String,
    pub name: String,
    pub province: String,
    pub seat_istat_code: String,
    pub population: u32,
    pub working_age_population: u32,
    pub area_km2: f64,
}

/// A node of the ISTAT CP2011 classification (levels 1..=5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profession {
    pub code: String,
    pub level: u8,
    pub label: String,
    pub isco08: Option<String>,
}

/// A node of the ATECO tree (sections, divisions, groups, classes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtecoEntry {
    pub code: String,
    pub level: u8,
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("{file}: cannot parse CSV: {source}")]
    Csv {
        file: &'static str,
        #[source]
        source: csv::Error,
    },
    #[error("{file}:{line}: {reason}")]
    Invalid {
        file: &'static str,
        line: u64,
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
struct CpiRow {
    cpi_code: String,
    name: String,
    province: String,
    seat_istat_code: String,
    population: u32,
    working_age_population: u32,
    area_km2: f64,
}

#[derive(Debug, Deserialize)]
struct ProfessionRow {
    code: String,
    level: u8,
    label: String,
    isco08: String,
}

/// All reference tables, indexed for lookups by code and by normalised name.
#[derive(Debug, Clone)]
pub struct ReferenceData {
    comuni: Vec<Comune>,
    comune_by_code: HashMap<String, usize>,
    comune_by_name: HashMap<String, usize>,
    cpis: Vec<Cpi>,
    cpi_by_code: HashMap<String, usize>,
    professions: Vec<Profession>,
    profession_by_code: HashMap<String, usize>,
    ateco: Vec<AtecoEntry>,
    ateco_by_code: HashMap<String, usize>,
}

/// Parses one embedded CSV, keeping the 1-based line of each record for error messages.
fn parse<T: for<'de> Deserialize<'de>>(
    file: &'static str,
    text: &str,
) -> Result<Vec<(u64, T)>, ReferenceError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|source| ReferenceError::Csv { file, source })?
        .clone();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|source| ReferenceError::Csv { file, source })?;
        let line = record.position().map_or(0, csv::Position::line);
        let value = record
            .deserialize(Some(&headers))
            .map_err(|source| ReferenceError::Csv { file, source })?;
        out.push((line, value));
    }
    Ok(out)
}

fn invalid(file: &'static str, line: u64, reason: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        file,
        line,
        reason: reason.into(),
    }
}

/// Key used to find a comune from free text: case, accents, apostrophes and hyphens vary
/// between job notices, CVs and the ISTAT list ("Mondovi", "mondovì", "Sauze d Oulx").
fn normalise_name(name: &str) -> String {
    fold_to_ascii(name)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lowercase ASCII transliteration ("Mondovì" → "mondovi", "Ștefan" →
/// "stefan"), shared by every lookup that must not care how a name was typed.
pub fn fold_to_ascii(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}

fn parent_code(code: &str) -> Option<&str> {
    code.rfind('.').map(|i| &code[..i])
}

/// CP2011 codes sort numerically segment by segment, which string order would break only if
/// a segment ever had two digits; comparing segments keeps the order right regardless.
fn profession_sort_key(code: &str) -> Vec<u32> {
    code.split('.')
        .map(|s| s.parse::<u32>().unwrap_or(u32::MAX))
        .collect()
}

impl ReferenceData {
    /// Parses and validates the tables compiled into the binary.
    pub fn embedded() -> Result<ReferenceData, ReferenceError> {
        Self::from_csv(COMUNI_CSV, CPI_CSV, PROFESSIONS_CSV, ATECO_CSV)
    }

    fn from_csv(
        comuni_csv: &str,
        cpi_csv: &str,
        professions_csv: &str,
        ateco_csv: &str,
    ) -> Result<ReferenceData, ReferenceError> {
        const CPI_FILE: &str = "cpi_piemonte.csv";
        const COMUNI_FILE: &str = "comuni_piemonte.csv";
        const PROF_FILE: &str = "professions_cp2011.csv";
        const ATECO_FILE: &str = "ateco.csv";

        let mut cpis = Vec::new();
        let mut cpi_by_code = HashMap::new();
        for (line, row) in parse::<CpiRow>(CPI_FILE, cpi_csv)? {
            if !PROVINCES.contains(&row.province.as_str()) {
                return Err(invalid(
                    CPI_FILE,
                    line,
                    format!("unknown province {}", row.province),
                ));
            }
            if !row.cpi_code.starts_with(&row.province) {
                return Err(invalid(
                    CPI_FILE,
                    line,
                    "cpi_code must start with its province",
                ));
            }
            if row.working_age_population > row.population || row.area_km2 <= 0.0 {
                return Err(invalid(CPI_FILE, line, "inconsistent population or area"));
            }
            if cpi_by_code
                .insert(row.cpi_code.clone(), cpis.len())
                .is_some()
            {
                return Err(invalid(
                    CPI_FILE,
                    line,
                    format!("duplicate {}", row.cpi_code),
                ));
            }
            cpis.push(Cpi {
                code: row.cpi_code,
                name: row.name,
                province: row.province,
                seat_istat_code: row.seat_istat_code,
                population: row.population,
                working_age_population: row.working_age_population,
                area_km2: row.area_km2,
            });
        }

        let mut comuni = Vec::new();
        let mut comune_by_code = HashMap::new();
        let mut comune_by_name = HashMap::new();
        let mut ambiguous_names = Vec::new();
        for (line, c) in parse::<Comune>(COMUNI_FILE, comuni_csv)? {
            if c.istat_code.len() != 6 || !c.istat_code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    COMUNI_FILE,
                    line,
                    format!("bad ISTAT code {}", c.istat_code),
                ));
            }
            if !PROVINCES.contains(&c.province.as_str()) {
                return Err(invalid(
                    COMUNI_FILE,
                    line,
                    format!("unknown province {}", c.province),
                ));
            }
            if !(LAT_RANGE.0..=LAT_RANGE.1).contains(&c.lat)
                || !(LON_RANGE.0..=LON_RANGE.1).contains(&c.lon)
            {
                return Err(invalid(COMUNI_FILE, line, "coordinates outside Piemonte"));
            }
            match cpi_by_code.get(&c.cpi_code).map(|&i| &cpis[i]) {
                None => {
                    return Err(invalid(
                        COMUNI_FILE,
                        line,
                        format!("unknown CPI {}", c.cpi_code),
                    ))
                }
                Some(cpi) if cpi.province != c.province => {
                    return Err(invalid(COMUNI_FILE, line, "CPI of another province"))
                }
                Some(_) => {}
            }
            if comune_by_code
                .insert(c.istat_code.clone(), comuni.len())
                .is_some()
            {
                return Err(invalid(
                    COMUNI_FILE,
                    line,
                    format!("duplicate {}", c.istat_code),
                ));
            }
            let key = normalise_name(&c.name);
            if comune_by_name.insert(key.clone(), comuni.len()).is_some() {
                ambiguous_names.push(key);
            }
            comuni.push(c);
        }
        // Homonyms would make a name lookup silently pick one comune: refuse to answer instead.
        for key in ambiguous_names {
            comune_by_name.remove(&key);
        }
        for (i, cpi) in cpis.iter().enumerate() {
            let seat = comune_by_code
                .get(&cpi.seat_istat_code)
                .map(|&j| &comuni[j]);
            if seat.map(|s| s.cpi_code.as_str()) != Some(cpi.code.as_str()) {
                return Err(invalid(
                    CPI_FILE,
                    i as u64 + 2,
                    format!("seat {} missing or outside its CPI", cpi.seat_istat_code),
                ));
            }
        }

        let mut professions = Vec::new();
        for (line, row) in parse::<ProfessionRow>(PROF_FILE, professions_csv)? {
            let segments: Vec<&str> = row.code.split('.').collect();
            let well_formed = segments.len() <= 5
                && segments
                    .iter()
                    .all(|s| s.len() == 1 && s.bytes().all(|b| b.is_ascii_digit()));
            if !well_formed || usize::from(row.level) != segments.len() {
                return Err(invalid(
                    PROF_FILE,
                    line,
                    format!("bad code/level {}", row.code),
                ));
            }
            let isco08 = Some(row.isco08).filter(|s| !s.is_empty());
            professions.push((
                line,
                Profession {
                    code: row.code,
                    level: row.level,
                    label: row.label,
                    isco08,
                },
            ));
        }
        professions.sort_by_key(|(_, p)| profession_sort_key(&p.code));
        let mut profession_by_code = HashMap::new();
        for (i, (line, p)) in professions.iter().enumerate() {
            if profession_by_code.insert(p.code.clone(), i).is_some() {
                return Err(invalid(PROF_FILE, *line, format!("duplicate {}", p.code)));
            }
        }
        for (line, p) in &professions {
            if let Some(parent) = parent_code(&p.code) {
                if !profession_by_code.contains_key(parent) {
                    return Err(invalid(
                        PROF_FILE,
                        *line,
                        format!("parent {parent} missing"),
                    ));
                }
            }
        }
        let professions: Vec<Profession> = professions.into_iter().map(|(_, p)| p).collect();

        let mut ateco = Vec::new();
        let mut ateco_by_code = HashMap::new();
        for (line, entry) in parse::<AtecoEntry>(ATECO_FILE, ateco_csv)? {
            if !(1..=4).contains(&entry.level) {
                return Err(invalid(
                    ATECO_FILE,
                    line,
                    format!("bad level {}", entry.level),
                ));
            }
            if ateco_by_code
                .insert(entry.code.clone(), ateco.len())
                .is_some()
            {
                return Err(invalid(
                    ATECO_FILE,
                    line,
                    format!("duplicate {}", entry.code),
                ));
            }
            ateco.push(entry);
        }

        Ok(ReferenceData {
            comuni,
            comune_by_code,
            comune_by_name,
            cpis,
            cpi_by_code,
            professions,
            profession_by_code,
            ateco,
            ateco_by_code,
        })
    }

    pub fn comuni(&self) -> &[Comune] {
        &self.comuni
    }

    pub fn comune(&self, istat_code: &str) -> Option<&Comune> {
        self.comune_by_code
            .get(istat_code)
            .map(|&i| &self.comuni[i])
    }

    /// Finds a comune from a name as people write it; `None` for unknown or homonymous names.
    pub fn comune_by_name(&self, name: &str) -> Option<&Comune> {
        self.comune_by_name
            .get(&normalise_name(name))
            .map(|&i| &self.comuni[i])
    }

    pub fn cpis(&self) -> &[Cpi] {
        &self.cpis
    }

    pub fn cpi(&self, code: &str) -> Option<&Cpi> {
        self.cpi_by_code.get(code).map(|&i| &self.cpis[i])
    }

    pub fn comuni_of_cpi(&self, cpi_code: &str) -> impl Iterator<Item = &Comune> {
        let cpi_code = cpi_code.to_owned();
        self.comuni.iter().filter(move |c| c.cpi_code == cpi_code)
    }

    /// Sorted by code, so a level's children follow their parent.
    pub fn professions(&self) -> &[Profession] {
        &self.professions
    }

    pub fn profession(&self, code: &str) -> Option<&Profession> {
        self.profession_by_code
            .get(code)
            .map(|&i| &self.professions[i])
    }

    /// Label of the code or of its nearest ancestor present.
    ///
    /// The curated table holds levels 4 and 5 only for common professions, so a vacancy
    /// coded at a finer level than we carry still gets a meaningful (broader) label.
    pub fn profession_label(&self, code: &str) -> Option<&str> {
        let mut current = code.trim();
        loop {
            if let Some(p) = self.profession(current) {
                return Some(p.label.as_str());
            }
            current = parent_code(current)?;
        }
    }

    pub fn ateco(&self, code: &str) -> Option<&AtecoEntry> {
        self.ateco_by_code.get(code).map(|&i| &self.ateco[i])
    }

    pub fn ateco_entries(&self) -> &[AtecoEntry] {
        &self.ateco
    }
}

/// Great-circle distance in km (haversine, R = 6371.0088).
///
/// Commuting distance is approximated by the great circle: it is what the coordinates we
/// have support, and it ranks candidates consistently even where roads wind.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ReferenceData {
        ReferenceData::embedded().expect("embedded reference data must be valid")
    }

    #[test]
    fn all_comuni_of_piemonte_have_a_cpi() {
        let d = data();
        assert!(
            (1150..=1200).contains(&d.comuni().len()),
            "{}",
            d.comuni().len()
        );
        for c in d.comuni() {
            let cpi = d.cpi(&c.cpi_code).expect("cpi exists");
            assert_eq!(cpi.province, c.province);
        }
        let total: u64 = d.comuni().iter().map(|c| u64::from(c.population)).sum();
        assert!((4_000_000..4_500_000).contains(&total), "{total}");
    }

    #[test]
    fn torino_is_where_it_should_be() {
        let d = data();
        let torino = d.comune("001272").expect("Torino");
        assert_eq!(torino.name, "Torino");
        assert_eq!(torino.province, "TO");
        assert!((torino.lat - 45.07).abs() < 0.05 && (torino.lon - 7.69).abs() < 0.05);
        assert_eq!(torino.cpi_code, "TO01");
        assert_eq!(d.comuni_of_cpi("TO01").count(), 1);
    }

    #[test]
    fn name_lookup_ignores_case_accents_and_punctuation() {
        let d = data();
        assert_eq!(
            d.comune_by_name("mondovi").map(|c| c.province.as_str()),
            Some("CN")
        );
        assert_eq!(
            d.comune_by_name("CIRIÈ").map(|c| c.istat_code.as_str()),
            Some("001086")
        );
        assert_eq!(
            d.comune_by_name("sauze d'oulx"),
            d.comune_by_name("Sauze d Oulx")
        );
        assert!(d.comune_by_name("sauze d oulx").is_some());
        assert!(d.comune_by_name("Milano").is_none());
    }

    #[test]
    fn thirty_cpis_with_their_working_age_population() {
        let d = data();
        assert_eq!(d.cpis().len(), 30);
        let working: u32 = d.cpis().iter().map(|c| c.working_age_population).sum();
        assert!((2_600_000..2_700_000).contains(&working), "{working}");
        let population: u32 = d.cpis().iter().map(|c| c.population).sum();
        assert_eq!(population, 4_256_350);
        for cpi in d.cpis() {
            let seat = d.comune(&cpi.seat_istat_code).expect("seat");
            assert_eq!(seat.cpi_code, cpi.code);
            assert!(d.comuni_of_cpi(&cpi.code).count() >= 1);
        }
        assert_eq!(d.cpi("CN05").map(|c| c.name.as_str()), Some("Mondovì"));
    }

    #[test]
    fn torino_cuneo_distance() {
        let d = data();
        let (t, c) = (
            d.comune("001272").expect("Torino"),
            d.comune("004078").expect("Cuneo"),
        );
        let km = haversine_km(t.lat, t.lon, c.lat, c.lon);
        assert!((75.0..80.0).contains(&km), "{km}");
        assert_eq!(haversine_km(t.lat, t.lon, t.lat, t.lon), 0.0);
        let back = haversine_km(c.lat, c.lon, t.lat, t.lon);
        assert!((km - back).abs() < 1e-9);
    }

    #[test]
    fn professions_form_a_tree() {
        let d = data();
        let per_level = |l: u8| d.professions().iter().filter(|p| p.level == l).count();
        assert_eq!(per_level(1), 9);
        assert_eq!(per_level(2), 37);
        assert!(per_level(3) >= 120);
        assert!(per_level(4) + per_level(5) >= 150);
        for p in d.professions() {
            if let Some(parent) = parent_code(&p.code) {
                assert!(d.profession(parent).is_some(), "parent of {}", p.code);
            }
        }
        let codes: Vec<Vec<u32>> = d
            .professions()
            .iter()
            .map(|p| profession_sort_key(&p.code))
            .collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        let cook = d.profession("5.2.2.1.0").expect("cuochi");
        assert_eq!(cook.label, "Cuochi in alberghi e ristoranti");
        assert_eq!(cook.isco08.as_deref(), Some("5120"));
    }

    #[test]
    fn profession_label_falls_back_to_ancestor() {
        let d = data();
        assert_eq!(
            d.profession_label("5.2.2.1.0"),
            Some("Cuochi in alberghi e ristoranti")
        );
        // 6.1.1.1.0 is not curated: its class label answers.
        assert!(d.profession("6.1.1.1.0").is_none());
        assert_eq!(
            d.profession_label("6.1.1.1.0"),
            d.profession("6.1.1").map(|p| p.label.as_str())
        );
        assert!(d.profession_label("0.1").is_none());
        assert!(d.profession_label("").is_none());
    }

    #[test]
    fn ateco_has_sections_divisions_and_groups() {
        let d = data();
        assert_eq!(d.ateco("I").map(|e| e.level), Some(1));
        assert_eq!(d.ateco("56").map(|e| e.level), Some(2));
        assert_eq!(d.ateco("56.1").map(|e| e.level), Some(3));
        assert!(d.ateco_entries().iter().filter(|e| e.level == 1).count() >= 21);
    }

    #[test]
    fn invalid_tables_are_rejected() {
        let bad_coords = COMUNI_CSV.replacen("45.07049", "40.07049", 1);
        assert!(matches!(
            ReferenceData::from_csv(&bad_coords, CPI_CSV, PROFESSIONS_CSV, ATECO_CSV),
            Err(ReferenceError::Invalid { .. })
        ));
        let orphan = format!("{PROFESSIONS_CSV}9.9.9,3,Orfano,\n");
        assert!(matches!(
            ReferenceData::from_csv(COMUNI_CSV, CPI_CSV, &orphan, ATECO_CSV),
            Err(ReferenceError::Invalid { .. })
        ));
    }
}
