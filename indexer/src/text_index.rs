//! Full-text side of the projection: two tantivy indexes (open vacancies,
//! active candidates) under an Italian analyzer.
//!
//! The analyzer lowercases, drops Italian stop words, stems with the Snowball
//! Italian stemmer and then folds accents, so "perché"/"perche" and
//! "cuochi"/"cuoco" meet. Each commit carries the journal position it
//! reflects, which is how a restart knows what to re-index.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, TokenStream,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Name under which the Italian analyzer is registered.
pub const ITALIAN: &str = "it_stem";

/// Most query terms taken from a profile or vacancy for relevance: beyond
/// this, BM25 over long texts costs more than it discriminates.
const MAX_QUERY_TERMS: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum TextIndexError {
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("opening index directory {path}: {source}")]
    Directory {
        path: String,
        source: tantivy::directory::error::OpenDirectoryError,
    },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("index writer lock poisoned")]
    Poisoned,
}

/// The Italian analyzer, also used to tokenise queries.
pub fn italian_analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser);
    // The stop-word list ships with tantivy; it is only absent if the crate
    // was built without it, in which case stemming still applies.
    match StopWordFilter::new(Language::Italian) {
        Some(stop) => builder
            .filter(stop)
            .filter(Stemmer::new(Language::Italian))
            .filter(AsciiFoldingFilter)
            .build(),
        None => builder
            .filter(Stemmer::new(Language::Italian))
            .filter(AsciiFoldingFilter)
            .build(),
    }
}

/// Analysed terms of `text`, deduplicated, in first-seen order.
pub fn analyse(text: &str) -> Vec<String> {
    let mut analyzer = italian_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token().text.clone();
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    out
}

struct Side {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    id: Field,
    title: Field,
    text: Field,
}

impl Side {
    fn open(dir: &Path) -> Result<Side, TextIndexError> {
        std::fs::create_dir_all(dir)?;
        let mut schema = Schema::builder();
        let id = schema.add_text_field("id", STRING | STORED);
        let italian = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ITALIAN)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let title = schema.add_text_field("title", italian.clone());
        let text = schema.add_text_field("text", italian);
        let schema = schema.build();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|source| {
            TextIndexError::Directory {
                path: dir.display().to_string(),
                source,
            }
        })?;
        let index = Index::open_or_create(mmap, schema)?;
        index.tokenizers().register(ITALIAN, italian_analyzer());
        // One indexing thread: the machine has two cores and queries need one.
        let writer = index.writer_with_num_threads(1, 64 * 1024 * 1024)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Side {
            index,
            reader,
            writer: Mutex::new(writer),
            id,
            title,
            text,
        })
    }

    fn upsert(&self, id: &str, title: &str, text: &str) -> Result<(), TextIndexError> {
        let writer = self.writer.lock().map_err(|_| TextIndexError::Poisoned)?;
        writer.delete_term(Term::from_field_text(self.id, id));
        writer.add_document(doc!(self.id => id, self.title => title, self.text => text))?;
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<(), TextIndexError> {
        let writer = self.writer.lock().map_err(|_| TextIndexError::Poisoned)?;
        writer.delete_term(Term::from_field_text(self.id, id));
        Ok(())
    }

    fn commit(&self, position: u64) -> Result<(), TextIndexError> {
        let mut writer = self.writer.lock().map_err(|_| TextIndexError::Poisoned)?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&position.to_string());
        prepared.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    fn committed_position(&self) -> Result<u64, TextIndexError> {
        let metas = self.index.load_metas()?;
        Ok(metas
            .payload
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0))
    }

    fn clear(&self) -> Result<(), TextIndexError> {
        let writer = self.writer.lock().map_err(|_| TextIndexError::Poisoned)?;
        writer.delete_all_documents()?;
        Ok(())
    }

    fn run(&self, query: &dyn Query, limit: usize) -> Result<Vec<(String, f32)>, TextIndexError> {
        let searcher = self.reader.searcher();
        let top = searcher.search(query, &TopDocs::with_limit(limit))?;
        let mut out = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = doc.get_first(self.id).and_then(|v| v.as_str()) {
                out.push((id.to_owned(), score));
            }
        }
        Ok(out)
    }

    /// Documents most relevant to a bag of analysed terms, scores scaled so
    /// the best is 1.
    fn relevance(
        &self,
        terms: &[String],
        limit: usize,
    ) -> Result<HashMap<String, f64>, TextIndexError> {
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .take(MAX_QUERY_TERMS)
            .map(|t| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(self.text, t),
                    IndexRecordOption::WithFreqs,
                ));
                (Occur::Should, q)
            })
            .collect();
        if clauses.is_empty() {
            return Ok(HashMap::new());
        }
        let hits = self.run(&BooleanQuery::new(clauses), limit)?;
        let best = hits.first().map(|(_, s)| *s).unwrap_or(0.0);
        if best <= 0.0 {
            return Ok(HashMap::new());
        }
        Ok(hits
            .into_iter()
            .map(|(id, s)| (id, f64::from(s / best)))
            .collect())
    }

    fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The two indexes of the projection.
pub struct TextIndex {
    vacancies: Side,
    candidates: Side,
}

impl TextIndex {
    /// Opens (or creates) the indexes under `dir`.
    pub fn open(dir: &Path) -> Result<TextIndex, TextIndexError> {
        Ok(TextIndex {
            vacancies: Side::open(&dir.join("vacancies"))?,
            candidates: Side::open(&dir.join("candidates"))?,
        })
    }

    pub fn upsert_vacancy(&self, id: &str, title: &str, text: &str) -> Result<(), TextIndexError> {
        self.vacancies.upsert(id, title, text)
    }

    pub fn remove_vacancy(&self, id: &str) -> Result<(), TextIndexError> {
        self.vacancies.remove(id)
    }

    pub fn upsert_candidate(
        &self,
        id: &str,
        title: &str,
        text: &str,
    ) -> Result<(), TextIndexError> {
        self.candidates.upsert(id, title, text)
    }

    pub fn remove_candidate(&self, id: &str) -> Result<(), TextIndexError> {
        self.candidates.remove(id)
    }

    /// Makes all changes searchable and durable, recording `position` as
    /// the journal position they reflect.
    pub fn commit(&self, position: u64) -> Result<(), TextIndexError> {
        self.vacancies.commit(position)?;
        self.candidates.commit(position)
    }

    /// The journal position of the last commit of both indexes (the lower).
    pub fn committed_position(&self) -> Result<u64, TextIndexError> {
        Ok(self
            .vacancies
            .committed_position()?
            .min(self.candidates.committed_position()?))
    }

    /// Drops every document (the next commit makes it durable); used when
    /// the index is found ahead of the state it must mirror.
    pub fn clear(&self) -> Result<(), TextIndexError> {
        self.vacancies.clear()?;
        self.candidates.clear()
    }

    /// Free-text search over open vacancies, best first, BM25 scores.
    pub fn search_vacancies(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<(String, f32)>, TextIndexError> {
        let mut parser = QueryParser::for_index(
            &self.vacancies.index,
            vec![self.vacancies.title, self.vacancies.text],
        );
        parser.set_field_boost(self.vacancies.title, 2.0);
        // Lenient: a citizen's query with a stray quote still searches.
        let (q, _errors) = parser.parse_query_lenient(query);
        self.vacancies.run(&q, limit)
    }

    /// Text relevance in [0,1] of the best `limit` candidates for `text`.
    pub fn candidate_relevance(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<HashMap<String, f64>, TextIndexError> {
        self.candidates.relevance(&analyse(text), limit)
    }

    /// Text relevance in [0,1] of the best `limit` vacancies for `text`.
    pub fn vacancy_relevance(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<HashMap<String, f64>, TextIndexError> {
        self.vacancies.relevance(&analyse(text), limit)
    }

    pub fn vacancy_docs(&self) -> u64 {
        self.vacancies.num_docs()
    }

    pub fn candidate_docs(&self) -> u64 {
        self.candidates.num_docs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyzer_stems_folds_and_drops_stop_words() {
        let terms = analyse("Cerchiamo un cuoco per il ristorante, perché è urgente");
        assert!(!terms.iter().any(|t| t == "il" || t == "un" || t == "per"));
        assert_eq!(analyse("cuochi"), analyse("cuoco"));
        assert_eq!(analyse("perché"), analyse("perche"));
        assert!(terms.iter().all(|t| t.is_ascii()));
    }

    #[test]
    fn search_finds_stemmed_forms_and_commit_payload_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let index = TextIndex::open(dir.path()).unwrap();
        index
            .upsert_vacancy("V1", "Cuoco capo partita", "Ristorante cerca cuoco esperto")
            .unwrap();
        index
            .upsert_vacancy("V2", "Magazziniere", "Uso del muletto e gestione scorte")
            .unwrap();
        index.commit(42).unwrap();
        let hits = index.search_vacancies("cuochi", 10).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, "V1");
        assert_eq!(index.committed_position().unwrap(), 42);
        index.remove_vacancy("V1").unwrap();
        index.commit(43).unwrap();
        assert!(index.search_vacancies("cuoco", 10).unwrap().is_empty());
        drop(index);
        let reopened = TextIndex::open(dir.path()).unwrap();
        assert_eq!(reopened.committed_position().unwrap(), 43);
        assert_eq!(reopened.vacancy_docs(), 1);
    }

    #[test]
    fn relevance_is_scaled_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let index = TextIndex::open(dir.path()).unwrap();
        index
            .upsert_candidate("C1", "", "saldatore esperto saldatura TIG")
            .unwrap();
        index
            .upsert_candidate("C2", "", "cameriere di sala")
            .unwrap();
        index.commit(1).unwrap();
        let r = index.candidate_relevance("Saldatore TIG", 10).unwrap();
        assert_eq!(r.get("C1"), Some(&1.0));
        assert!(!r.contains_key("C2"));
    }
}
