//! Full-text side of the projection: two tantivy indexes (open vacancies,
//! active candidates) under an Italian analyzer.
//!
//! The analyzer lowercases, drops Italian stop words, folds accents and
//! stems with the Snowball Italian stemmer, so "perché"/"perche",
//! "città"/"citta" and "cuochi"/"cuoco" meet. Each commit carries the journal position it
//! reflects, which is how a restart knows what to re-index.
//!
//! Scores are computed with BM25 statistics of the live documents only
//! ([`LiveStats`]): tantivy's defaults count deleted documents until a merge
//! purges them, so two replicas holding the same documents, but fed in other
//! batches, would rank differently.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use tantivy::collector::TopDocs;
use tantivy::columnar::StrColumn;
use tantivy::index::SegmentId;
use tantivy::postings::Postings;
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight, Query, QueryParser};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, TokenStream,
};
use tantivy::{
    doc, DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher,
    SegmentReader, TantivyDocument, Term, TERMINATED,
};

/// The id field: stored, and a fast column that relevance reads ids from.
const ID: &str = "id";

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

/// Accented Italian stop words as people type them without accents
/// ("perche", "piu"): the standard list has only the accented forms.
const FOLDED_STOP_WORDS: &[&str] = &[
    "perche", "piu", "sara", "saro", "avra", "avro", "fara", "faro", "stara", "staro", "cosi",
];

/// The Italian analyzer, also used to tokenise queries: lowercase, drop
/// stop words, fold accents, drop stop words typed without accents, stem.
/// Stemming comes last so an unaccented query and an accented text meet.
pub fn italian_analyzer() -> TextAnalyzer {
    let folded_stop = StopWordFilter::remove(FOLDED_STOP_WORDS.iter().map(|w| (*w).to_owned()));
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser);
    // The stop-word list ships with tantivy; it is only absent if the crate
    // was built without it, in which case the rest still applies.
    match StopWordFilter::new(Language::Italian) {
        Some(stop) => builder
            .filter(stop)
            .filter(AsciiFoldingFilter)
            .filter(folded_stop)
            .filter(Stemmer::new(Language::Italian))
            .build(),
        None => builder
            .filter(AsciiFoldingFilter)
            .filter(folded_stop)
            .filter(Stemmer::new(Language::Italian))
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

/// BM25 statistics over live documents only, so a score depends on what the
/// index holds, not on the history of deletes and merges that produced it.
///
/// Field lengths are summed from the per-document field norms (the same
/// quantised lengths BM25 uses per document), which makes the total a pure
/// function of the live documents.
pub struct LiveStats {
    searcher: Searcher,
    docs: u64,
    tokens: HashMap<Field, u64>,
}

impl LiveStats {
    fn compute(searcher: Searcher, fields: &[Field]) -> tantivy::Result<LiveStats> {
        let mut docs = 0u64;
        let mut tokens: HashMap<Field, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            docs += u64::from(segment.num_docs());
            for &field in fields {
                let norms = segment.get_fieldnorms_reader(field)?;
                let sum: u64 = segment
                    .doc_ids_alive()
                    .map(|d| u64::from(norms.fieldnorm(d)))
                    .sum();
                *tokens.entry(field).or_default() += sum;
            }
        }
        Ok(LiveStats {
            searcher,
            docs,
            tokens,
        })
    }
}

impl Bm25StatisticsProvider for LiveStats {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        Ok(self.tokens.get(&field).copied().unwrap_or(0))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let mut total = 0u64;
        for segment in self.searcher.segment_readers() {
            let inverted = segment.inverted_index(term.field())?;
            match segment.alive_bitset() {
                None => total += u64::from(inverted.doc_freq(term)?),
                Some(alive) => {
                    if let Some(mut postings) =
                        inverted.read_postings(term, IndexRecordOption::Basic)?
                    {
                        let mut doc = postings.doc();
                        while doc != TERMINATED {
                            if alive.is_alive(doc) {
                                total += 1;
                            }
                            doc = postings.advance();
                        }
                    }
                }
            }
        }
        Ok(total)
    }
}

struct Side {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// The searcher queries use, with its statistics; swapped on commit.
    current: RwLock<Arc<LiveStats>>,
    /// Each segment's ids by term ordinal of the `id` column, read once per
    /// segment (segments are immutable): looking the ids of a list up in
    /// the column's dictionary decompressed a zstd block per few ids, about
    /// a third of a list's text relevance at a million profiles.
    ids: Mutex<HashMap<SegmentId, SegmentIds>>,
    id: Field,
    title: Field,
    text: Field,
}

impl Side {
    fn open(dir: &Path) -> Result<Side, TextIndexError> {
        std::fs::create_dir_all(dir)?;
        let mut schema = Schema::builder();
        let id = schema.add_text_field(ID, STRING | STORED | FAST);
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
        let index = match Index::open_or_create(mmap, schema.clone()) {
            // An index written by an older layout (the id had no fast
            // column before) is derived data: start it again, and recovery
            // re-indexes from the state since its committed position, 0.
            Err(tantivy::TantivyError::SchemaError(_)) => {
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
                let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|source| {
                    TextIndexError::Directory {
                        path: dir.display().to_string(),
                        source,
                    }
                })?;
                Index::create(mmap, schema, tantivy::IndexSettings::default())?
            }
            other => other?,
        };
        index.tokenizers().register(ITALIAN, italian_analyzer());
        // One indexing thread: the machine has two cores and queries need one.
        let writer = index.writer_with_num_threads(1, 64 * 1024 * 1024)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let current = RwLock::new(Arc::new(LiveStats::compute(
            reader.searcher(),
            &[title, text],
        )?));
        Ok(Side {
            index,
            reader,
            writer: Mutex::new(writer),
            current,
            ids: Mutex::default(),
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
        let stats = LiveStats::compute(self.reader.searcher(), &[self.title, self.text])?;
        *self.current.write().map_err(|_| TextIndexError::Poisoned)? = Arc::new(stats);
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

    fn stats(&self) -> Result<Arc<LiveStats>, TextIndexError> {
        Ok(self
            .current
            .read()
            .map_err(|_| TextIndexError::Poisoned)?
            .clone())
    }

    fn run(&self, query: &dyn Query, limit: usize) -> Result<Vec<(String, f32)>, TextIndexError> {
        let stats = self.stats()?;
        let searcher = &stats.searcher;
        let top = searcher.search_with_statistics_provider(
            query,
            &TopDocs::with_limit(limit),
            stats.as_ref(),
        )?;
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
    ///
    /// BM25 is summed here, term by term in the terms' order and in f64,
    /// rather than by a tantivy union query: the union adds term scores in
    /// an order that depends on the segment layout, which makes replicas
    /// holding the same documents differ in the last bit. Each term's
    /// postings are read straight from the segment and scored with the
    /// term's [`Bm25Weight`] (exactly what a `TermQuery` scores), and ids
    /// come from the `id` fast column: the stored-document store, which
    /// decompresses a block per document, was most of a list's text cost.
    fn relevance(
        &self,
        terms: &[String],
        limit: usize,
    ) -> Result<HashMap<String, f64>, TextIndexError> {
        let stats = self.stats()?;
        let searcher = &stats.searcher;
        let segments = searcher.segment_readers();
        // Per segment: a dense accumulator (a common term matches a large
        // share of a million profiles, and hashing each hit cost more than
        // scoring it) and the documents it touched, so that only those are
        // read back.
        let mut acc: Vec<Vec<f64>> = segments
            .iter()
            .map(|s| scratch(s.max_doc() as usize))
            .collect();
        let mut touched: Vec<Vec<DocId>> = vec![Vec::new(); segments.len()];
        for term in terms.iter().take(MAX_QUERY_TERMS) {
            let term = Term::from_field_text(self.text, term);
            let weight = Bm25Weight::for_terms(stats.as_ref(), std::slice::from_ref(&term))?;
            for (seg, segment) in segments.iter().enumerate() {
                let inverted = segment.inverted_index(self.text)?;
                let Some(mut postings) =
                    inverted.read_postings(&term, IndexRecordOption::WithFreqs)?
                else {
                    continue;
                };
                let norms = segment.get_fieldnorms_reader(self.text)?;
                let alive = segment.alive_bitset();
                let (acc, touched) = (&mut acc[seg], &mut touched[seg]);
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        let score = weight.score(norms.fieldnorm_id(doc), postings.term_freq());
                        if let Some(slot) = acc.get_mut(doc as usize) {
                            if *slot == 0.0 {
                                touched.push(doc);
                            }
                            *slot += f64::from(score);
                        }
                    }
                    doc = postings.advance();
                }
            }
        }
        // BM25 of a matching term is positive, so zero means no match.
        let mut ranked: Vec<(DocAddress, f64)> = touched
            .iter()
            .enumerate()
            .flat_map(|(seg, docs)| {
                let acc = &acc[seg];
                docs.iter()
                    .map(move |&doc| (DocAddress::new(seg as u32, doc), acc[doc as usize]))
            })
            .filter(|(_, s)| *s > 0.0)
            .collect();
        for (mut acc, docs) in acc.into_iter().zip(&touched) {
            for &doc in docs {
                acc[doc as usize] = 0.0;
            }
            give_back(acc);
        }
        let by_score_desc = |a: &(DocAddress, f64), b: &(DocAddress, f64)| b.1.total_cmp(&a.1);
        if ranked.len() > limit {
            // Which of several equal scores at the cut-off would make the
            // list depends on document addresses; keep none of them, so the
            // set is a function of the scores alone.
            ranked.select_nth_unstable_by(limit, by_score_desc);
            let cut = ranked[limit].1;
            ranked.truncate(limit);
            ranked.retain(|(_, s)| *s > cut);
        }
        let best = ranked.iter().map(|(_, s)| *s).fold(0.0, f64::max);
        if best <= 0.0 {
            return Ok(HashMap::new());
        }
        let mut out = HashMap::with_capacity(ranked.len());
        let mut tables: Vec<Option<(StrColumn, SegmentIds)>> = vec![None; segments.len()];
        for (address, score) in ranked {
            let seg = address.segment_ord as usize;
            if tables[seg].is_none() {
                tables[seg] = self.ids_of(&segments[seg], searcher)?;
            }
            let Some((column, ids)) = &tables[seg] else {
                continue;
            };
            let id = column
                .term_ords(address.doc_id)
                .next()
                .and_then(|ord| ids.get(usize::try_from(ord).ok()?));
            if let Some(id) = id {
                out.insert(id.to_string(), score / best);
            }
        }
        Ok(out)
    }

    /// The `id` column of a segment and its ids by ordinal, from the cache
    /// or read once; entries of segments the searcher no longer holds are
    /// dropped when a new one is added.
    fn ids_of(
        &self,
        segment: &SegmentReader,
        searcher: &Searcher,
    ) -> Result<Option<(StrColumn, SegmentIds)>, TextIndexError> {
        let Some(column) = segment.fast_fields().str(ID)? else {
            return Ok(None);
        };
        let key = segment.segment_id();
        if let Some(ids) = self.lock_ids()?.get(&key) {
            return Ok(Some((column, ids.clone())));
        }
        let dictionary = column.dictionary();
        let mut ids = Vec::with_capacity(dictionary.num_terms());
        let mut stream = dictionary.stream()?;
        while stream.advance() {
            ids.push(String::from_utf8_lossy(stream.key()).into());
        }
        let ids: SegmentIds = ids.into();
        let mut cache = self.lock_ids()?;
        let live: BTreeSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        cache.retain(|id, _| live.contains(id));
        cache.insert(key, ids.clone());
        Ok(Some((column, ids)))
    }

    fn lock_ids(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<SegmentId, SegmentIds>>, TextIndexError> {
        self.ids.lock().map_err(|_| TextIndexError::Poisoned)
    }

    fn num_docs(&self) -> u64 {
        self.stats().map(|s| s.docs).unwrap_or(0)
    }
}

thread_local! {
    /// Zeroed accumulators a thread's relevance calls reuse: allocating and
    /// zeroing one per segment per list (8 MB at a million profiles) was a
    /// tenth of a small list's time.
    static SCRATCH: std::cell::RefCell<Vec<Vec<f64>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A zeroed accumulator of at least `len` entries.
fn scratch(len: usize) -> Vec<f64> {
    let mut v = SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v
}

/// Returns an accumulator, zeroed again, for the next call on this thread.
fn give_back(v: Vec<f64>) {
    SCRATCH.with(|s| s.borrow_mut().push(v));
}

/// A segment's ids by term ordinal of its `id` column.
type SegmentIds = Arc<[Box<str>]>;

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
    use tantivy::collector::{Collector, SegmentCollector};
    use tantivy::query::TermQuery;

    /// Collects every matching document with its score.
    struct AllScores;

    struct SegmentScores {
        segment: u32,
        hits: Vec<(DocAddress, f32)>,
    }

    impl Collector for AllScores {
        type Fruit = Vec<(DocAddress, f32)>;
        type Child = SegmentScores;

        fn for_segment(
            &self,
            segment: u32,
            _: &tantivy::SegmentReader,
        ) -> tantivy::Result<SegmentScores> {
            Ok(SegmentScores {
                segment,
                hits: Vec::new(),
            })
        }

        fn requires_scoring(&self) -> bool {
            true
        }

        fn merge_fruits(
            &self,
            fruits: Vec<Vec<(DocAddress, f32)>>,
        ) -> tantivy::Result<Self::Fruit> {
            Ok(fruits.into_iter().flatten().collect())
        }
    }

    impl SegmentCollector for SegmentScores {
        type Fruit = Vec<(DocAddress, f32)>;

        fn collect(&mut self, doc: tantivy::DocId, score: tantivy::Score) {
            self.hits.push((DocAddress::new(self.segment, doc), score));
        }

        fn harvest(self) -> Self::Fruit {
            self.hits
        }
    }

    /// The relevance a `TermQuery` per term gives, summed the same way:
    /// what `Side::relevance` computed before it read postings itself.
    fn by_term_queries(side: &Side, terms: &[String]) -> HashMap<String, f64> {
        let stats = side.stats().unwrap();
        let searcher = &stats.searcher;
        let mut acc: HashMap<DocAddress, f64> = HashMap::new();
        for term in terms.iter().take(MAX_QUERY_TERMS) {
            let query = TermQuery::new(
                Term::from_field_text(side.text, term),
                IndexRecordOption::WithFreqs,
            );
            for (address, score) in searcher
                .search_with_statistics_provider(&query, &AllScores, stats.as_ref())
                .unwrap()
            {
                *acc.entry(address).or_default() += f64::from(score);
            }
        }
        let best = acc.values().copied().fold(0.0, f64::max);
        acc.into_iter()
            .map(|(address, score)| {
                let doc: TantivyDocument = searcher.doc(address).unwrap();
                let id = doc.get_first(side.id).and_then(|v| v.as_str()).unwrap();
                (id.to_owned(), score / best)
            })
            .collect()
    }

    #[test]
    fn relevance_from_postings_equals_term_queries_with_deletes_and_segments() {
        let dir = tempfile::tempdir().unwrap();
        let index = TextIndex::open(dir.path()).unwrap();
        let words = [
            "saldatore",
            "tig",
            "cuoco",
            "pizzaiolo",
            "magazziniere",
            "muletto",
        ];
        for round in 0..3u64 {
            for i in 0..60u64 {
                let text: Vec<&str> = (0..(i % 5 + 1))
                    .map(|k| words[((i * 7 + k * 3 + round) % 6) as usize])
                    .collect();
                index
                    .upsert_candidate(&format!("C{i:03}"), "", &text.join(" "))
                    .unwrap();
            }
            // Deletes inside committed segments, and several segments.
            index
                .remove_candidate(&format!("C{:03}", round * 5))
                .unwrap();
            index.commit(round + 1).unwrap();
        }
        let terms = analyse("saldatore TIG muletto cuoco");
        let got = index.candidates.relevance(&terms, 1_000).unwrap();
        let want = by_term_queries(&index.candidates, &terms);
        assert!(got.len() > 20, "{}", got.len());
        assert_eq!(got, want);
        // A short list is the best of the exhaustive one: those strictly
        // above the first score left out.
        let mut scores: Vec<f64> = want.values().copied().collect();
        scores.sort_by(|a, b| b.total_cmp(a));
        for limit in [1, 3, 7, 12, 20] {
            let cut = scores[limit];
            let top: HashMap<String, f64> = want
                .iter()
                .filter(|(_, s)| **s > cut)
                .map(|(id, s)| (id.clone(), *s))
                .collect();
            let got = index.candidates.relevance(&terms, limit).unwrap();
            assert_eq!(got, top, "limit {limit}");
        }
    }

    #[test]
    fn analyzer_stems_folds_and_drops_stop_words() {
        let terms = analyse("Cerchiamo un cuoco per il ristorante, perché è urgente");
        assert!(!terms.iter().any(|t| t == "il" || t == "un" || t == "per"));
        assert_eq!(analyse("cuochi"), analyse("cuoco"));
        assert!(analyse("perché perche più piu").is_empty());
        assert_eq!(analyse("città"), analyse("citta"));
        assert_eq!(analyse("Università"), analyse("universita"));
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
    fn scores_do_not_depend_on_deleted_documents() {
        let docs = [
            ("C1", "saldatore esperto saldatura TIG e MIG"),
            ("C2", "cameriere di sala e bar"),
            ("C3", "saldatore carpentiere metallico"),
            ("C4", "magazziniere con patentino del muletto"),
        ];
        let once = tempfile::tempdir().unwrap();
        let a = TextIndex::open(once.path()).unwrap();
        for (id, text) in docs {
            a.upsert_candidate(id, "", text).unwrap();
        }
        a.commit(1).unwrap();
        // Same final documents, reached through updates and deletes spread
        // over several commits (segments with deleted documents).
        let churn = tempfile::tempdir().unwrap();
        let b = TextIndex::open(churn.path()).unwrap();
        for round in 0..3 {
            for (id, text) in docs {
                b.upsert_candidate(id, "", &format!("{text} versione {round}"))
                    .unwrap();
            }
            b.upsert_candidate("GONE", "", "saldatore saldatore saldatura")
                .unwrap();
            b.commit(round + 1).unwrap();
        }
        for (id, text) in docs {
            b.upsert_candidate(id, "", text).unwrap();
        }
        b.remove_candidate("GONE").unwrap();
        b.commit(9).unwrap();
        assert_eq!(a.candidate_docs(), b.candidate_docs());
        let ra = a.candidate_relevance("saldatore TIG", 10).unwrap();
        let rb = b.candidate_relevance("saldatore TIG", 10).unwrap();
        assert_eq!(ra, rb);
        let raw_a = a.search_vacancies("x", 1).unwrap();
        assert!(raw_a.is_empty());
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
