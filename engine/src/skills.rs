//! The Italian skill vocabulary: canonical skill labels with their synonyms
//! (`data/reference/skills_it.csv`, compiled in), and the normalisation that
//! lets "Saldature TIG", "saldatura tig" and "TIG" meet on one label.
//!
//! Normalising a text lowercases it, folds it to ASCII
//! ([`crate::reference::fold_to_ascii`]), splits it into tokens (letters,
//! digits, `#` and `+`, so "C#" and "A+" survive), drops Italian stop words
//! (articles, prepositions, elided "d'"/"l'"), and reduces every remaining
//! token to its Snowball Italian stem, so plural and singular forms agree.
//!
//! The vocabulary is applied at the ingestion edge (`indexer::decode`): skills
//! are stored under their canonical label, so the fold and scoring keep
//! comparing labels and stay as fast as before. Every label the synthetic
//! generator uses is a canonical label as written, so generated data maps to
//! itself.

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

const SKILLS_CSV: &str = include_str!("../../data/reference/skills_it.csv");

/// Italian words that carry no meaning in a skill phrase: articles,
/// (articulated) prepositions, conjunctions, and elided forms left by the
/// apostrophe ("dell'", "d'").
const STOP_WORDS: &[&str] = &[
    "a", "ad", "agli", "ai", "al", "all", "alla", "alle", "allo", "con", "d", "da", "dagli", "dai",
    "dal", "dall", "dalla", "dalle", "dallo", "de", "degli", "dei", "del", "dell", "della",
    "delle", "dello", "di", "e", "ed", "fra", "gli", "i", "il", "in", "l", "la", "le", "lo",
    "negli", "nei", "nel", "nell", "nella", "nelle", "nello", "o", "per", "sugli", "sui", "sul",
    "sull", "sulla", "sulle", "sullo", "su", "tra", "un", "una", "uno",
];

/// Why the vocabulary could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SkillVocabularyError {
    #[error("skills_it.csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("skills_it.csv line {line}: missing column {column}")]
    MissingColumn { line: u64, column: &'static str },
    #[error("skills_it.csv line {line}: {term:?} is empty once normalised")]
    EmptyTerm { line: u64, term: String },
    #[error("skills_it.csv line {line}: {term:?} normalises like {other:?}, another skill")]
    Ambiguous {
        line: u64,
        term: String,
        other: String,
    },
}

/// Canonical skill labels and the normalised forms (label and synonyms) that
/// lead to each.
#[derive(Debug)]
pub struct SkillVocabulary {
    labels: Vec<String>,
    /// Normalised term (tokens joined by one space) → index in `labels`.
    by_term: HashMap<String, usize>,
    /// First token of a normalised term → (all its tokens, index in `labels`).
    phrases: HashMap<String, Vec<(Vec<String>, usize)>>,
}

impl SkillVocabulary {
    /// The vocabulary compiled into the binary.
    pub fn embedded() -> Result<SkillVocabulary, SkillVocabularyError> {
        Self::from_csv(SKILLS_CSV)
    }

    /// Reads a vocabulary with columns `id,label,synonyms` (synonyms separated
    /// by `|`). Two skills whose terms normalise alike are an error: the
    /// vocabulary must say which one a text means.
    pub fn from_csv(text: &str) -> Result<SkillVocabulary, SkillVocabularyError> {
        let stemmer = Stemmer::create(Algorithm::Italian);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let mut vocabulary = SkillVocabulary {
            labels: Vec::new(),
            by_term: HashMap::new(),
            phrases: HashMap::new(),
        };
        for record in reader.records() {
            let record = record?;
            let line = record.position().map_or(0, csv::Position::line);
            let label = record
                .get(1)
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .ok_or(SkillVocabularyError::MissingColumn {
                    line,
                    column: "label",
                })?;
            let synonyms = record.get(2).unwrap_or("");
            let index = vocabulary.labels.len();
            vocabulary.labels.push(label.to_owned());
            let terms = std::iter::once(label)
                .chain(synonyms.split('|').map(str::trim).filter(|s| !s.is_empty()));
            for term in terms {
                let tokens = tokens(&stemmer, term);
                if tokens.is_empty() {
                    return Err(SkillVocabularyError::EmptyTerm {
                        line,
                        term: term.to_owned(),
                    });
                }
                let key = tokens.join(" ");
                match vocabulary.by_term.get(&key) {
                    Some(&other) if other != index => {
                        return Err(SkillVocabularyError::Ambiguous {
                            line,
                            term: term.to_owned(),
                            other: vocabulary.labels[other].clone(),
                        });
                    }
                    Some(_) => {} // a synonym spelling the label again
                    None => {
                        vocabulary.by_term.insert(key, index);
                        vocabulary
                            .phrases
                            .entry(tokens[0].clone())
                            .or_default()
                            .push((tokens, index));
                    }
                }
            }
        }
        Ok(vocabulary)
    }

    /// Number of canonical skills.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The canonical labels, in file order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(String::as_str)
    }

    /// The canonical label of a skill written as a label or a synonym, in any
    /// case, accents, number or with other stop words; `None` if unknown.
    pub fn canonical(&self, skill: &str) -> Option<&str> {
        let key = normalise(skill);
        self.by_term.get(&key).map(|&i| self.labels[i].as_str())
    }

    /// The canonical labels whose label or a synonym occurs in `text` as a
    /// whole sequence of normalised tokens (a phrase, never part of a word),
    /// in order of first mention, each once.
    pub fn mentioned_in(&self, text: &str) -> Vec<&str> {
        let stemmer = Stemmer::create(Algorithm::Italian);
        let words = tokens(&stemmer, text);
        let mut found: Vec<usize> = Vec::new();
        for start in 0..words.len() {
            let Some(candidates) = self.phrases.get(&words[start]) else {
                continue;
            };
            for (phrase, index) in candidates {
                if words[start..].starts_with(phrase) && !found.contains(index) {
                    found.push(*index);
                }
            }
        }
        found.into_iter().map(|i| self.labels[i].as_str()).collect()
    }
}

/// The normalised form of a skill or text: stems of the meaningful tokens,
/// lowercase ASCII, joined by one space.
pub fn normalise(text: &str) -> String {
    tokens(&Stemmer::create(Algorithm::Italian), text).join(" ")
}

fn tokens(stemmer: &Stemmer, text: &str) -> Vec<String> {
    crate::reference::fold_to_ascii(text)
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '#' || c == '+'))
        .filter(|t| !t.is_empty() && !STOP_WORDS.contains(t))
        .map(|t| stemmer.stem(t).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> SkillVocabulary {
        SkillVocabulary::embedded().expect("embedded vocabulary")
    }

    #[test]
    fn embedded_vocabulary_loads_and_labels_map_to_themselves() {
        let v = vocabulary();
        assert!(v.len() >= 300, "{} skills", v.len());
        for label in v.labels() {
            assert_eq!(v.canonical(label), Some(label));
        }
    }

    #[test]
    fn normalisation_folds_case_accents_stop_words_and_number() {
        assert_eq!(normalise("Saldatura TIG"), normalise("saldature tig"));
        assert_eq!(
            normalise("Capacità organizzative"),
            normalise("capacita organizzativa")
        );
        assert_eq!(
            normalise("bilancio d'esercizio"),
            normalise("Bilancio di esercizio")
        );
        assert_eq!(normalise("uso del muletto"), normalise("uso muletti"));
        assert_eq!(normalise("di il la e"), "");
        assert_eq!(normalise("C#"), "c#");
        assert_ne!(normalise("C#"), normalise("C"));
    }

    #[test]
    fn synonyms_and_variants_map_to_the_canonical_label() {
        let v = vocabulary();
        assert_eq!(v.canonical("saldature TIG"), Some("saldatura TIG"));
        assert_eq!(v.canonical("TIG"), Some("saldatura TIG"));
        assert_eq!(v.canonical("igiene alimentare HACCP"), Some("HACCP"));
        assert_eq!(v.canonical("haccp"), Some("HACCP"));
        assert_eq!(v.canonical("Carrelli elevatori"), Some("uso del muletto"));
        assert_eq!(
            v.canonical("patente muletto"),
            Some("patentino carrellista")
        );
        assert_eq!(v.canonical("Fogli di calcolo"), Some("Excel"));
        assert_eq!(v.canonical("ECDL"), Some("ECDL/ICDL"));
        assert_eq!(
            v.canonical("Puntualità e affidabilità"),
            Some("puntualità e affidabilità")
        );
        assert_eq!(v.canonical("astrofisica"), None);
        assert_eq!(v.canonical(""), None);
    }

    #[test]
    fn mentions_are_whole_phrases_in_order_of_first_mention() {
        let v = vocabulary();
        let text = "Esperienza in saldature TIG e uso di carrelli elevatori; \
                    richiesta conoscenza HACCP. Di nuovo: saldatura tig.";
        assert_eq!(
            v.mentioned_in(text),
            vec!["saldatura TIG", "uso del muletto", "HACCP"]
        );
        // Inside a word is not a mention ("tigre", "stirare" hold "tig", "stir").
        assert!(v.mentioned_in("una tigre, prestiro, Javanese").is_empty());
        // A phrase needs all its tokens, contiguous.
        assert!(!v
            .mentioned_in("lettura del manuale e schemi di montaggio elettrici")
            .contains(&"lettura schemi elettrici"));
        assert!(v
            .mentioned_in("Buona lettura degli schemi elettrici.")
            .contains(&"lettura schemi elettrici"));
        assert!(v.mentioned_in("").is_empty());
    }

    #[test]
    fn ambiguous_or_empty_terms_are_typed_errors() {
        let csv = "id,label,synonyms\nA,saldatura TIG,\nB,tig welding,saldature tig\n";
        assert!(matches!(
            SkillVocabulary::from_csv(csv),
            Err(SkillVocabularyError::Ambiguous { line: 3, .. })
        ));
        let csv = "id,label,synonyms\nA,saldatura TIG,della\n";
        assert!(matches!(
            SkillVocabulary::from_csv(csv),
            Err(SkillVocabularyError::EmptyTerm { line: 2, .. })
        ));
        let csv = "id,label,synonyms\nA,,x\n";
        assert!(matches!(
            SkillVocabulary::from_csv(csv),
            Err(SkillVocabularyError::MissingColumn { .. })
        ));
    }
}
