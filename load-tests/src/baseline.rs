//! The PostgreSQL peer: the same world in relational tables, loaded with
//! COPY from the engine's own fold of the events (so both sides hold exactly
//! the same facts), and the preselection query of `MatchCandidates` written
//! in SQL: the same hard filters, the same criteria and weights, Italian
//! full-text `ts_rank` in place of BM25, and distance from comune
//! coordinates.
//!
//! Tables are unlogged: they are derived data, rebuilt from the events at
//! will, so write-ahead logging would only slow the load and fill the disk
//! (queries read them exactly as logged tables).
//!
//! Indexes are the ones a DBA would add: btree on the candidate's comune,
//! GIN on the profile's tsvector, btree on the contracts' worker, and a
//! per-comune table of the farthest any resident travels (the SQL twin of
//! the engine's skip of comuni beyond every resident's limit).

use std::fmt::Write as _;
use std::io::Write as _;

use incontra_engine::config::ScoringConfig;
use incontra_engine::model::{Candidate, Day, Vacancy, VacancyStatus};
use incontra_engine::reference::ReferenceData;
use incontra_engine::state::State;
use incontra_indexer::projection::{candidate_text, vacancy_query_text};

use crate::pg::PgError;

const SCHEMA: &str = "
DROP TABLE IF EXISTS comuni, candidates, contracts, vacancies, comune_reach;
CREATE UNLOGGED TABLE comuni (istat text PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL);
CREATE UNLOGGED TABLE candidates (
    id text PRIMARY KEY,
    comune text NOT NULL,
    max_distance_km int NOT NULL,
    available bool NOT NULL,
    withdrawn bool NOT NULL,
    accepted_contracts smallint[] NOT NULL,
    min_hours int NOT NULL,
    max_hours int NOT NULL,
    protected smallint NOT NULL,
    prof_prefixes text[] NOT NULL,
    exp_codes text[] NOT NULL,
    exp_months int[] NOT NULL,
    skills text[] NOT NULL,
    cert_skills text[] NOT NULL,
    education smallint NOT NULL,
    langs text[] NOT NULL,
    lang_levels smallint[] NOT NULL,
    licences text[] NOT NULL,
    did_day int NOT NULL,
    income_support smallint NOT NULL,
    vulnerable bool NOT NULL,
    gol_path smallint NOT NULL,
    profile_text text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('italian', profile_text)) STORED
);
CREATE UNLOGGED TABLE contracts (candidate_id text NOT NULL, start_day int NOT NULL, last_day int NOT NULL, hours int NOT NULL);
CREATE UNLOGGED TABLE vacancies (
    id text PRIMARY KEY,
    comune text NOT NULL,
    status smallint NOT NULL,
    positions int NOT NULL,
    filled int NOT NULL,
    valid_until int NOT NULL,
    prof_prefixes text[] NOT NULL,
    prof_segments int NOT NULL,
    exp_prefix text NOT NULL,
    min_exp_months int NOT NULL,
    req_skills text[] NOT NULL,
    pref_skills text[] NOT NULL,
    min_education smallint NOT NULL,
    langs text[] NOT NULL,
    lang_levels smallint[] NOT NULL,
    licences text[] NOT NULL,
    contract_type smallint NOT NULL,
    hours int NOT NULL,
    reserved smallint NOT NULL,
    query_text text NOT NULL
);
";

const INDEXES: &str = "
CREATE INDEX candidates_comune ON candidates (comune);
CREATE INDEX candidates_tsv ON candidates USING gin (tsv);
CREATE INDEX contracts_candidate ON contracts (candidate_id);
CREATE UNLOGGED TABLE comune_reach AS
    SELECT comune, max(least(CASE WHEN max_distance_km = 0 THEN {default_km} ELSE max_distance_km END, {max_search_km})) AS max_km
    FROM candidates GROUP BY comune;
ALTER TABLE comune_reach ADD PRIMARY KEY (comune);
ANALYZE;
";

/// What loading took and holds.
#[derive(Debug, Clone, Default)]
pub struct LoadStats {
    pub candidates: u64,
    pub contracts: u64,
    pub vacancies: u64,
    pub copy_seconds: f64,
    pub index_seconds: f64,
}

/// CP2011 prefixes of a code: "5.2.2" gives 5, 5.2, 5.2.2. The number of a
/// vacancy's prefixes found among all of a candidate's prefixes is the
/// deepest level it shares with any of the candidate's codes, since every
/// prefix of a code is itself in the set.
fn prefixes(code: &str) -> Vec<String> {
    if code.is_empty() {
        return Vec::new();
    }
    let parts: Vec<&str> = code.split('.').collect();
    (1..=parts.len()).map(|n| parts[..n].join(".")).collect()
}

/// COPY text-format field: backslash, tab and line breaks escaped.
fn field(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// An array literal (`{"a","b"}`), as a COPY field.
fn array<S: AsRef<str>>(out: &mut String, items: impl IntoIterator<Item = S>) {
    let mut literal = String::from("{");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            literal.push(',');
        }
        literal.push('"');
        for ch in item.as_ref().chars() {
            if ch == '"' || ch == '\\' {
                literal.push('\\');
            }
            literal.push(ch);
        }
        literal.push('"');
    }
    literal.push('}');
    field(out, &literal);
}

fn int_array(out: &mut String, items: impl IntoIterator<Item = i64>) {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    out.push('{');
    out.push_str(&items.join(","));
    out.push('}');
}

fn bool_field(b: bool) -> &'static str {
    if b {
        "t"
    } else {
        "f"
    }
}

fn candidate_row(out: &mut String, c: &Candidate, state: &State, reference: &ReferenceData) {
    let p = &c.profile;
    let mut codes: Vec<String> = p
        .desired_professions
        .iter()
        .chain(p.experience.iter().map(|e| &e.profession_code))
        .flat_map(|code| prefixes(code))
        .collect();
    codes.sort();
    codes.dedup();
    field(out, &c.id);
    out.push('\t');
    field(out, &p.domicile_comune);
    let _ = write!(out, "\t{}\t", p.max_distance_km);
    out.push_str(bool_field(c.available));
    out.push('\t');
    out.push_str(bool_field(c.withdrawn));
    out.push('\t');
    int_array(out, p.accepted_contracts.iter().map(|t| *t as i64));
    let _ = write!(
        out,
        "\t{}\t{}\t{}\t",
        p.min_hours_percent,
        p.max_hours_percent,
        state.protected_category(&c.id) as i64
    );
    array(out, &codes);
    out.push('\t');
    array(out, p.experience.iter().map(|e| e.profession_code.as_str()));
    out.push('\t');
    int_array(out, p.experience.iter().map(|e| i64::from(e.months)));
    out.push('\t');
    array(out, p.skills.iter().map(|s| s.to_ascii_lowercase()));
    out.push('\t');
    array(
        out,
        p.certified_skills.iter().map(|s| s.to_ascii_lowercase()),
    );
    let _ = write!(out, "\t{}\t", p.education as i64);
    array(out, p.languages.iter().map(|l| l.language.as_str()));
    out.push('\t');
    int_array(out, p.languages.iter().map(|l| l.level as i64));
    out.push('\t');
    array(out, &p.driving_licences);
    let _ = write!(
        out,
        "\t{}\t{}\t{}\t{}\t",
        c.did_day,
        p.income_support as i64,
        bool_field(p.vulnerable),
        p.gol_path as i64
    );
    field(out, &candidate_text(c, reference).1);
    out.push('\n');
}

fn vacancy_row(out: &mut String, v: &Vacancy, config: &ScoringConfig, reference: &ReferenceData) {
    let s = &v.spec;
    let segments = prefixes(&s.profession_code);
    // The engine's relevant experience: the first `relevant_depth` levels
    // (at most the code's own, at least one) equal.
    let depth = config.experience.relevant_depth.min(segments.len()).max(1);
    let exp_prefix = segments.get(depth - 1).cloned().unwrap_or_default();
    let status = match v.status {
        VacancyStatus::Open => 0,
        VacancyStatus::Closed => 1,
        VacancyStatus::Withdrawn => 2,
    };
    field(out, &v.id);
    out.push('\t');
    field(out, &s.workplace_comune);
    let _ = write!(
        out,
        "\t{status}\t{}\t{}\t{}\t",
        s.positions, v.positions_filled, s.valid_until_day
    );
    array(out, &segments);
    let _ = write!(out, "\t{}\t", segments.len());
    field(out, &exp_prefix);
    let _ = write!(out, "\t{}\t", s.min_experience_months);
    array(
        out,
        s.required_skills.iter().map(|x| x.to_ascii_lowercase()),
    );
    out.push('\t');
    array(
        out,
        s.preferred_skills.iter().map(|x| x.to_ascii_lowercase()),
    );
    let _ = write!(out, "\t{}\t", s.min_education as i64);
    array(out, s.languages.iter().map(|l| l.language.as_str()));
    out.push('\t');
    int_array(out, s.languages.iter().map(|l| l.level as i64));
    out.push('\t');
    array(out, &s.driving_licences);
    let _ = write!(
        out,
        "\t{}\t{}\t{}\t",
        s.contract_type as i64, s.hours_percent, s.reserved_quota as i64
    );
    field(out, &vacancy_query_text(v, reference));
    out.push('\n');
}

/// Streams `rows` into `table` with COPY, a megabyte at a time.
fn copy<T>(
    client: &mut postgres::Client,
    table: &str,
    items: impl Iterator<Item = T>,
    mut row: impl FnMut(&mut String, T) -> u64,
) -> Result<u64, PgError> {
    let mut writer = client.copy_in(&format!("COPY {table} FROM STDIN"))?;
    let mut buffer = String::with_capacity(1 << 21);
    let mut rows = 0;
    for item in items {
        rows += row(&mut buffer, item);
        if buffer.len() > 1 << 20 {
            writer
                .write_all(buffer.as_bytes())
                .map_err(|e| PgError::Io(format!("COPY {table}"), e))?;
            buffer.clear();
        }
    }
    writer
        .write_all(buffer.as_bytes())
        .map_err(|e| PgError::Io(format!("COPY {table}"), e))?;
    writer.finish()?;
    Ok(rows)
}

/// Creates the tables, copies the state in, and builds the indexes.
pub fn load(
    client: &mut postgres::Client,
    state: &State,
    reference: &ReferenceData,
    config: &ScoringConfig,
) -> Result<LoadStats, PgError> {
    let started = std::time::Instant::now();
    client.batch_execute(SCHEMA)?;
    copy(client, "comuni", reference.comuni().iter(), |out, c| {
        field(out, &c.istat_code);
        let _ = writeln!(out, "\t{}\t{}", c.lat, c.lon);
        1
    })?;
    let mut stats = LoadStats {
        candidates: copy(client, "candidates", state.candidates(), |out, c| {
            candidate_row(out, c, state, reference);
            1
        })?,
        ..LoadStats::default()
    };
    stats.contracts = copy(client, "contracts", state.candidates(), |out, c| {
        let mut n = 0;
        for k in state.employment_of(c).map(|r| r.contracts()).unwrap_or(&[]) {
            // The last day in force: the earlier of the planned end and the
            // cessazione (`Contract::active_on`).
            let last = k
                .end_day
                .unwrap_or(Day::MAX)
                .min(k.ceased.as_ref().map_or(Day::MAX, |(d, _)| *d));
            field(out, &c.id);
            let _ = writeln!(out, "\t{}\t{last}\t{}", k.start_day, k.hours_percent);
            n += 1;
        }
        n
    })?;
    stats.vacancies = copy(client, "vacancies", state.vacancies(), |out, v| {
        vacancy_row(out, v, config, reference);
        1
    })?;
    stats.copy_seconds = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    client.batch_execute(
        &INDEXES
            .replace("{default_km}", &config.distance.default_max_km.to_string())
            .replace(
                "{max_search_km}",
                &config.distance.max_search_km.to_string(),
            ),
    )?;
    stats.index_seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// The preselection query: `$1` the vacancy id, `$2` the day judged
/// (days since the epoch), `$3` how many to return. Every constant comes
/// from `config`, as the engine's do.
pub fn match_candidates_sql(config: &ScoringConfig) -> String {
    let w = &config.weights;
    let total = w.profession
        + w.skills
        + w.text
        + w.distance
        + w.experience
        + w.education
        + w.languages
        + w.licences;
    let d = &config.distance;
    let b = &config.boosts;
    let long_term_days = i64::from(b.long_term_months) * 365 / 12;
    // Latitude degrees spanning the farthest search, for the bounding box.
    let box_deg = f64::from(d.max_search_km) / d.road_factor / 110.0;
    format!(
        "
WITH v AS MATERIALIZED (
    SELECT v.*, co.lat AS vlat, co.lon AS vlon,
           CASE WHEN v.min_exp_months = 0 THEN {full_credit} ELSE v.min_exp_months END AS exp_target,
           replace(plainto_tsquery('italian', v.query_text)::text, ' & ', ' | ')::tsquery AS q
    FROM vacancies v JOIN comuni co ON co.istat = v.comune
    WHERE v.id = $1 AND v.status = 0 AND v.positions > v.filled
      AND (v.valid_until = 0 OR v.valid_until >= $2)
),
near AS (
    SELECT c.istat, d.km
    FROM v CROSS JOIN comuni c
    JOIN comune_reach r ON r.comune = c.istat
    CROSS JOIN LATERAL (SELECT {road} * 2 * 6371.0088 * asin(least(1.0, sqrt(
        power(sin(radians(c.lat - v.vlat) / 2), 2)
        + cos(radians(v.vlat)) * cos(radians(c.lat)) * power(sin(radians(c.lon - v.vlon) / 2), 2)))) AS km) d
    WHERE c.lat BETWEEN v.vlat - {box_deg} AND v.vlat + {box_deg}
      AND d.km <= {max_search} AND d.km <= greatest(r.max_km, {default_km})
),
-- BM25's twin: ts_rank scaled by a statistic of the whole register, as the
-- engine scales by each word's best score (here the best document's rank).
bounds AS MATERIALIZED (
    SELECT max(ts_rank(c.tsv, v.q)) AS best
    FROM candidates c, v WHERE c.tsv @@ v.q
),
eligible AS (
    SELECT c.*, n.km
    FROM near n JOIN candidates c ON c.comune = n.istat, v
    WHERE NOT c.withdrawn AND c.available
      AND n.km <= least(CASE WHEN c.max_distance_km = 0 THEN {default_km} ELSE c.max_distance_km END, {max_search})
      AND (cardinality(c.accepted_contracts) = 0 OR v.contract_type = ANY (c.accepted_contracts))
      AND v.hours BETWEEN c.min_hours AND (CASE WHEN c.max_hours = 0 THEN 100 ELSE c.max_hours END)
      AND (v.reserved = 0 OR v.reserved = c.protected)
      AND coalesce((SELECT sum(k.hours) FROM contracts k
                    WHERE k.candidate_id = c.id AND k.start_day <= $2 AND k.last_day >= $2), 0)
          + v.hours <= 100
),
relevant AS (
    SELECT e.*, CASE WHEN e.tsv @@ v.q THEN ts_rank(e.tsv, v.q) ELSE 0.0 END AS r
    FROM eligible e, v
),
scored AS (
    SELECT e.id, rel.text,
      (( {w_prof} * (CASE WHEN v.prof_segments = 0 THEN 0.0 ELSE
            (SELECT count(*) FROM unnest(v.prof_prefixes) p WHERE p = ANY (e.prof_prefixes))::float8 / v.prof_segments END)
      + {w_skills} * (SELECT CASE WHEN rq IS NOT NULL AND pf IS NOT NULL THEN {share} * rq + (1 - {share}) * pf
                                  ELSE coalesce(rq, pf, 1.0) END
            FROM (SELECT
                (SELECT avg(CASE WHEN s = ANY (e.cert_skills) THEN 1.0 WHEN s = ANY (e.skills) THEN {declared} ELSE 0.0 END)
                 FROM unnest(v.req_skills) s) AS rq,
                (SELECT avg(CASE WHEN s = ANY (e.cert_skills) THEN 1.0 WHEN s = ANY (e.skills) THEN {declared} ELSE 0.0 END)
                 FROM unnest(v.pref_skills) s) AS pf) x)
      + {w_text} * rel.text
      + {w_dist} * exp(-e.km / {decay})
      + {w_exp} * least(1.0, (SELECT coalesce(sum(x.m), 0) FROM unnest(e.exp_codes, e.exp_months) x(code, m)
            WHERE x.code = v.exp_prefix OR x.code LIKE v.exp_prefix || '.%')::float8 / v.exp_target)
      + {w_edu} * (CASE WHEN v.min_education = 0 OR e.education >= v.min_education THEN 1.0
                        WHEN e.education + 1 = v.min_education THEN 0.5 ELSE 0.0 END)
      + {w_lang} * coalesce((SELECT avg(CASE WHEN cl.lvl IS NULL THEN 0.0 WHEN cl.lvl >= rl.lvl THEN 1.0 ELSE 0.5 END)
            FROM unnest(v.langs, v.lang_levels) rl(lang, lvl)
            LEFT JOIN LATERAL (SELECT l.lvl FROM unnest(e.langs, e.lang_levels) l(lang, lvl)
                               WHERE l.lang = rl.lang LIMIT 1) cl ON true), 1.0)
      + {w_lic} * (CASE WHEN cardinality(v.licences) = 0 THEN 1.0 ELSE
            (SELECT count(*) FROM unnest(v.licences) l WHERE l = ANY (e.licences))::float8 / cardinality(v.licences) END)
      ) / {total}
      + (CASE WHEN $2 - e.did_day >= {long_term_days} THEN {b_long} ELSE 0.0 END)
      + (CASE WHEN e.income_support <> 0 THEN {b_benefit} ELSE 0.0 END)
      + (CASE WHEN e.vulnerable THEN {b_vulnerable} ELSE 0.0 END)
      + (CASE WHEN e.gol_path = {gol_path} THEN {b_gol} ELSE 0.0 END))::float8 AS score
    FROM relevant e CROSS JOIN v CROSS JOIN bounds b
    CROSS JOIN LATERAL (SELECT (CASE WHEN b.best > 0 THEN e.r / b.best ELSE 0.0 END)::float8 AS text) rel
)
SELECT id, score, text FROM scored ORDER BY score DESC, id LIMIT $3
",
        full_credit = config.experience.full_credit_months.max(1),
        road = d.road_factor,
        box_deg = box_deg,
        max_search = d.max_search_km,
        default_km = d.default_max_km,
        w_prof = w.profession,
        w_skills = w.skills,
        share = config.skills.required_share,
        declared = config.skills.declared_credit,
        w_text = w.text,
        w_dist = w.distance,
        decay = d.decay_km,
        w_exp = w.experience,
        w_edu = w.education,
        w_lang = w.languages,
        w_lic = w.licences,
        total = total,
        long_term_days = long_term_days,
        b_long = b.long_term_unemployed,
        b_benefit = b.benefit_recipient,
        b_vulnerable = b.vulnerable,
        b_gol = b.gol_lavoro_e_inclusione,
        gol_path = incontra_engine::model::GolPath::LavoroEInclusione as i64,
    )
}

/// One row of the SQL list.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRow {
    pub id: String,
    pub score: f64,
    /// The text-relevance similarity in [0,1] that went into the score.
    pub text: f64,
}

/// The SQL preselection list of one vacancy, best first.
pub fn match_candidates(
    client: &mut postgres::Client,
    statement: &postgres::Statement,
    vacancy_id: &str,
    today: Day,
    limit: i64,
) -> Result<Vec<SqlRow>, PgError> {
    Ok(client
        .query(statement, &[&vacancy_id, &today, &limit])?
        .iter()
        .map(|row| SqlRow {
            id: row.get(0),
            score: row.get(1),
            text: row.get(2),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_nested() {
        assert_eq!(prefixes("5.2.2"), vec!["5", "5.2", "5.2.2"]);
        assert!(prefixes("").is_empty());
    }

    #[test]
    fn copy_fields_and_arrays_are_escaped() {
        let mut out = String::new();
        array(&mut out, ["a\"b", "c\\d", "e\tf"]);
        assert_eq!(out, r#"{"a\\"b","c\\\\d","e\tf"}"#);
    }
}
