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
//!
//! A list's text relevance ([`DocScorer`]) is computed for the documents of
//! the pairs it scores, not for the collection: each document carries the
//! engine's slot of its entity in a fast column, each searcher keeps its live
//! documents by slot, and a batch of slots is scored by seeking each query
//! term's postings to the batch's documents in order. The sum is scaled by
//! the sum of each term's best live score, so it lies in [0, 1] and depends
//! on the documents alone.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use incontra_engine::text::{TextError, TextRelevance};
use tantivy::collector::TopDocs;
use tantivy::columnar::StrColumn;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::SegmentId;
use tantivy::postings::{Postings, TermInfo};
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight, Query, QueryParser};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, TokenStream,
};
use tantivy::{
    doc, DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, InvertedIndexReader,
    ReloadPolicy, Searcher, SegmentReader, TantivyDocument, Term, TERMINATED,
};

/// The id field: stored, and a fast column that relevance reads ids from.
const ID: &str = "id";

/// The engine's slot of the document's entity (slots are never reused): a
/// fast column from which each searcher finds a list's documents.
const SLOT: &str = "slot";

/// No live document at a slot (in [`LiveStats::by_slot`]).
const NO_DOC: u64 = u64::MAX;

/// Terms whose statistics a searcher keeps at most; a new searcher (every
/// commit) starts afresh, so this bounds only a long quiet spell.
const MAX_CACHED_TERMS: usize = 200_000;

/// Name under which the Italian analyzer is registered.
pub const ITALIAN: &str = "it_stem";

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

/// Analysed terms of `text`, deduplicated, in first-seen order; at most
/// `max` of them (a query's words beyond the config's
/// `text.max_query_terms` are not scored).
pub fn analyse_query(text: &str, max: usize) -> Vec<String> {
    let mut terms = analyse(text);
    terms.truncate(max);
    terms
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
/// index holds, not on the history of deletes and merges that produced it;
/// with what a list needs to score documents by slot.
///
/// Field lengths are summed from the per-document field norms (the same
/// quantised lengths BM25 uses per document), which makes the total a pure
/// function of the live documents.
pub struct LiveStats {
    searcher: Searcher,
    docs: u64,
    tokens: HashMap<Field, u64>,
    /// The field relevance scores.
    text: Field,
    /// Each segment's postings and field norms of `text`, by ordinal.
    segments: Vec<(Arc<InvertedIndexReader>, FieldNormReader)>,
    /// The live document of each slot: segment ordinal << 32 | doc id, or
    /// [`NO_DOC`].
    by_slot: Vec<u64>,
    /// What scoring a term needs, computed once per searcher: terms recur
    /// across lists (a region's vacancies share their vocabulary).
    terms: Mutex<HashMap<String, Arc<TermStats>>>,
}

/// One query term on one searcher.
struct TermStats {
    weight: Bm25Weight,
    /// Its postings in each segment, absent where no document holds it.
    infos: Vec<Option<TermInfo>>,
    /// The highest score a live document has on it: the sum over a query's
    /// terms bounds every document's sum, and scales it into [0, 1].
    best: f64,
}

impl LiveStats {
    fn compute(searcher: Searcher, fields: &[Field], text: Field) -> tantivy::Result<LiveStats> {
        let mut docs = 0u64;
        let mut tokens: HashMap<Field, u64> = HashMap::new();
        let mut segments = Vec::new();
        let mut by_slot = Vec::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            docs += u64::from(segment.num_docs());
            for &field in fields {
                let norms = segment.get_fieldnorms_reader(field)?;
                let sum: u64 = segment
                    .doc_ids_alive()
                    .map(|d| u64::from(norms.fieldnorm(d)))
                    .sum();
                *tokens.entry(field).or_default() += sum;
            }
            segments.push((
                segment.inverted_index(text)?,
                segment.get_fieldnorms_reader(text)?,
            ));
            let slots = segment.fast_fields().u64(SLOT)?;
            for doc in segment.doc_ids_alive() {
                let Some(slot) = slots.first(doc).and_then(|s| usize::try_from(s).ok()) else {
                    continue;
                };
                if slot >= by_slot.len() {
                    by_slot.resize(slot + 1, NO_DOC);
                }
                by_slot[slot] = (ord as u64) << 32 | u64::from(doc);
            }
        }
        Ok(LiveStats {
            searcher,
            docs,
            tokens,
            text,
            segments,
            by_slot,
            terms: Mutex::default(),
        })
    }

    /// The statistics of an analysed term of the text field, from the cache
    /// or computed: its weight, where its postings are, its best score.
    fn term(&self, word: &str) -> Result<Arc<TermStats>, TextIndexError> {
        if let Some(known) = self.lock_terms()?.get(word) {
            return Ok(known.clone());
        }
        let term = Term::from_field_text(self.text, word);
        // One pass over the postings gives both the live document frequency
        // (the weight's idf) and the best score: at a given field norm BM25
        // grows with the term frequency, so the best is among the highest
        // frequency seen at each of the 256 norms (the pair tantivy's block
        // maxima keep, for the same reason).
        let mut infos = Vec::with_capacity(self.segments.len());
        let mut live = 0u64;
        let mut highest = [0u32; 256];
        for (segment, (inverted, norms)) in
            self.searcher.segment_readers().iter().zip(&self.segments)
        {
            let info = inverted.get_term_info(&term)?;
            if let Some(info) = &info {
                let mut postings =
                    inverted.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
                let alive = segment.alive_bitset();
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        live += 1;
                        let at = &mut highest[usize::from(norms.fieldnorm_id(doc))];
                        *at = (*at).max(postings.term_freq());
                    }
                    doc = postings.advance();
                }
            }
            infos.push(info);
        }
        // What `Bm25Weight::for_terms` computes from these statistics.
        let average = self.total_num_tokens(self.text)? as f32 / self.docs as f32;
        let weight = Bm25Weight::for_one_term(live, self.docs, average);
        let best = (0u8..=255)
            .zip(highest)
            .filter(|(_, tf)| *tf > 0)
            .map(|(norm, tf)| f64::from(weight.score(norm, tf)))
            .fold(0.0, f64::max);
        let stats = Arc::new(TermStats {
            weight,
            infos,
            best,
        });
        let mut cache = self.lock_terms()?;
        if cache.len() >= MAX_CACHED_TERMS {
            cache.clear();
        }
        cache.insert(word.to_owned(), stats.clone());
        Ok(stats)
    }

    fn lock_terms(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<TermStats>>>, TextIndexError> {
        self.terms.lock().map_err(|_| TextIndexError::Poisoned)
    }
}

/// The text relevance of one query against one side's documents, by slot:
/// what a list asks for the pairs it scores ([`TextRelevance`]).
///
/// A document's relevance is the sum of its BM25 scores on the query's
/// terms (in f64, in the query's term order, so replicas agree to the last
/// bit whatever their segments), divided by the sum of each term's best
/// live score. It lies in [0, 1], is 1 only for a document that is the best
/// on every term, and is a function of the live documents alone.
pub struct DocScorer {
    stats: Arc<LiveStats>,
    terms: Vec<Arc<TermStats>>,
    /// The sum of the terms' best scores; 0 when no document holds any.
    scale: f64,
    /// A batch's documents by segment, with their place in the batch.
    by_segment: Vec<Vec<(DocId, usize)>>,
}

impl DocScorer {
    fn new(stats: Arc<LiveStats>, words: &[String]) -> Result<DocScorer, TextIndexError> {
        let terms = words
            .iter()
            .map(|w| stats.term(w))
            .collect::<Result<Vec<_>, _>>()?;
        let scale = terms.iter().map(|t| t.best).sum();
        Ok(DocScorer {
            by_segment: vec![Vec::new(); stats.segments.len()],
            stats,
            terms,
            scale,
        })
    }

    fn score(&mut self, slots: &[u32], out: &mut Vec<f64>) -> Result<(), TextIndexError> {
        out.clear();
        out.resize(slots.len(), 0.0);
        if self.scale <= 0.0 {
            return Ok(());
        }
        for docs in &mut self.by_segment {
            docs.clear();
        }
        for (i, &slot) in slots.iter().enumerate() {
            let Some(&at) = self.stats.by_slot.get(slot as usize) else {
                continue;
            };
            if at == NO_DOC {
                continue;
            }
            if let Some(docs) = self.by_segment.get_mut((at >> 32) as usize) {
                docs.push((at as DocId, i));
            }
        }
        for docs in &mut self.by_segment {
            docs.sort_unstable();
        }
        for term in &self.terms {
            for (seg, docs) in self.by_segment.iter().enumerate() {
                let (Some(Some(info)), Some((inverted, norms))) =
                    (term.infos.get(seg), self.stats.segments.get(seg))
                else {
                    continue;
                };
                if docs.is_empty() {
                    continue;
                }
                let mut postings =
                    inverted.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
                for &(doc, i) in docs {
                    let mut at = postings.doc();
                    if at < doc {
                        at = postings.seek(doc);
                    }
                    if at == TERMINATED {
                        break;
                    }
                    if at == doc {
                        let score = term
                            .weight
                            .score(norms.fieldnorm_id(doc), postings.term_freq());
                        out[i] += f64::from(score);
                    }
                }
            }
        }
        for r in out.iter_mut() {
            *r = (*r / self.scale).min(1.0);
        }
        Ok(())
    }
}

impl TextRelevance for DocScorer {
    fn ceiling(&self) -> f64 {
        if self.scale > 0.0 {
            1.0
        } else {
            0.0
        }
    }

    fn relevance_of(&mut self, slots: &[u32], out: &mut Vec<f64>) -> Result<(), TextError> {
        // An index error names a segment or file, never a person.
        self.score(slots, out).map_err(|e| TextError(e.to_string()))
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
    slot: Field,
    title: Field,
    text: Field,
}

impl Side {
    fn open(dir: &Path) -> Result<Side, TextIndexError> {
        std::fs::create_dir_all(dir)?;
        let mut schema = Schema::builder();
        let id = schema.add_text_field(ID, STRING | STORED | FAST);
        let slot = schema.add_u64_field(SLOT, FAST);
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
            // An index written by an older layout (before the id's fast
            // column, or the slot's) is derived data: start it again, and
            // recovery re-indexes from the state since its committed
            // position, 0.
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
            text,
        )?));
        Ok(Side {
            index,
            reader,
            writer: Mutex::new(writer),
            current,
            ids: Mutex::default(),
            id,
            slot,
            title,
            text,
        })
    }

    fn upsert(&self, id: &str, slot: u32, title: &str, text: &str) -> Result<(), TextIndexError> {
        let writer = self.writer.lock().map_err(|_| TextIndexError::Poisoned)?;
        writer.delete_term(Term::from_field_text(self.id, id));
        writer.add_document(doc!(
            self.id => id,
            self.slot => u64::from(slot),
            self.title => title,
            self.text => text,
        ))?;
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
        let stats =
            LiveStats::compute(self.reader.searcher(), &[self.title, self.text], self.text)?;
        *self.current.write().map_err(|_| TextIndexError::Poisoned)? = Arc::new(stats);
        Ok(())
    }

    /// Merges away every committed segment that still holds a document of
    /// one of `ids` (deleted documents stay in their segment, words and
    /// all, until a merge), then drops the old files. Returns how many
    /// segments were rewritten.
    fn purge(&self, ids: &[String]) -> Result<usize, TextIndexError> {
        let searcher = self.reader.searcher();
        let mut segments = Vec::new();
        for reader in searcher.segment_readers() {
            let terms = reader.inverted_index(self.id)?;
            for id in ids {
                let term = Term::from_field_text(self.id, id);
                if terms.terms().get(term.serialized_value_bytes())?.is_some() {
                    segments.push(reader.segment_id());
                    break;
                }
            }
        }
        if segments.is_empty() {
            return Ok(0);
        }
        let mut writer = self.writer.lock().map_err(|_| TextIndexError::Poisoned)?;
        writer.merge(&segments).wait()?;
        writer.garbage_collect_files().wait()?;
        drop(writer);
        self.reader.reload()?;
        let stats =
            LiveStats::compute(self.reader.searcher(), &[self.title, self.text], self.text)?;
        *self.current.write().map_err(|_| TextIndexError::Poisoned)? = Arc::new(stats);
        Ok(segments.len())
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

    /// The `limit` documents most relevant to a bag of analysed terms in
    /// the whole collection, scored as [`DocScorer`] scores them: the
    /// text-only ranking the evaluation compares lists with. Every posting
    /// of every term is read; no list calls this.
    fn best_by_text(
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
        let mut scale = 0.0;
        for word in terms {
            let term = stats.term(word)?;
            scale += term.best;
            for (seg, segment) in segments.iter().enumerate() {
                let (Some(Some(info)), Some((inverted, norms))) =
                    (term.infos.get(seg), stats.segments.get(seg))
                else {
                    continue;
                };
                let mut postings =
                    inverted.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
                let weight = &term.weight;
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
        if scale <= 0.0 {
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
                out.insert(id.to_string(), (score / scale).min(1.0));
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

    /// Indexes (or replaces) a vacancy; `slot` is its slot in the state.
    pub fn upsert_vacancy(
        &self,
        id: &str,
        slot: u32,
        title: &str,
        text: &str,
    ) -> Result<(), TextIndexError> {
        self.vacancies.upsert(id, slot, title, text)
    }

    pub fn remove_vacancy(&self, id: &str) -> Result<(), TextIndexError> {
        self.vacancies.remove(id)
    }

    /// Indexes (or replaces) a candidate; `slot` is their slot in the
    /// state.
    pub fn upsert_candidate(
        &self,
        id: &str,
        slot: u32,
        title: &str,
        text: &str,
    ) -> Result<(), TextIndexError> {
        self.candidates.upsert(id, slot, title, text)
    }

    pub fn remove_candidate(&self, id: &str) -> Result<(), TextIndexError> {
        self.candidates.remove(id)
    }

    /// Rewrites the committed candidate segments that still hold a deleted
    /// document of one of `ids` (erased people: GDPR art. 17 wants their
    /// words gone, not only unsearchable). Call after the commit that
    /// deleted them; costs a merge of those segments, so for erasures only.
    pub fn purge_candidates(&self, ids: &[String]) -> Result<usize, TextIndexError> {
        self.candidates.purge(ids)
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

    /// Candidates' text relevance to the analysed words of a vacancy, by
    /// slot.
    pub fn candidate_scorer(&self, words: &[String]) -> Result<DocScorer, TextIndexError> {
        DocScorer::new(self.candidates.stats()?, words)
    }

    /// Open vacancies' text relevance to the analysed words of a person, by
    /// slot.
    pub fn vacancy_scorer(&self, words: &[String]) -> Result<DocScorer, TextIndexError> {
        DocScorer::new(self.vacancies.stats()?, words)
    }

    /// The `limit` candidates most relevant to the words in the whole
    /// index, by id, with the relevance [`TextIndex::candidate_scorer`]
    /// gives them.
    pub fn best_candidates_by_text(
        &self,
        words: &[String],
        limit: usize,
    ) -> Result<HashMap<String, f64>, TextIndexError> {
        self.candidates.best_by_text(words, limit)
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

    /// The relevance `TermQuery`s give, one per term: each document's
    /// scores summed in the terms' order, over the sum of each term's best
    /// score, by id. What [`DocScorer`] must give without scanning.
    fn by_term_queries(side: &Side, terms: &[String]) -> HashMap<String, f64> {
        let stats = side.stats().unwrap();
        let searcher = &stats.searcher;
        let mut acc: HashMap<DocAddress, f64> = HashMap::new();
        let mut scale = 0.0;
        for term in terms {
            let query = TermQuery::new(
                Term::from_field_text(side.text, term),
                IndexRecordOption::WithFreqs,
            );
            let mut best = 0.0f64;
            for (address, score) in searcher
                .search_with_statistics_provider(&query, &AllScores, stats.as_ref())
                .unwrap()
            {
                *acc.entry(address).or_default() += f64::from(score);
                best = best.max(f64::from(score));
            }
            scale += best;
        }
        acc.into_iter()
            .map(|(address, score)| {
                let doc: TantivyDocument = searcher.doc(address).unwrap();
                let id = doc.get_first(side.id).and_then(|v| v.as_str()).unwrap();
                (id.to_owned(), score / scale)
            })
            .collect()
    }

    /// Relevance of `slots` from a fresh scorer of `text` on candidates.
    fn relevance_of(index: &TextIndex, text: &str, slots: &[u32]) -> Vec<f64> {
        let mut scorer = index.candidate_scorer(&analyse(text)).unwrap();
        let mut out = Vec::new();
        scorer.relevance_of(slots, &mut out).unwrap();
        out
    }

    #[test]
    fn relevance_by_slot_equals_term_queries_with_deletes_and_segments() {
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
            // Everyone first, then a third each round: older segments stay,
            // holding deleted versions.
            for i in (0..60u32).filter(|i| round == 0 || u64::from(*i) % 3 == round) {
                let text: Vec<&str> = (0..(u64::from(i) % 5 + 1))
                    .map(|k| words[((u64::from(i) * 7 + k * 3 + round) % 6) as usize])
                    .collect();
                index
                    .upsert_candidate(&format!("C{i:03}"), i, "", &text.join(" "))
                    .unwrap();
            }
            // Deletes inside committed segments, and several segments.
            index
                .remove_candidate(&format!("C{:03}", round * 5))
                .unwrap();
            index.commit(round + 1).unwrap();
        }
        assert!(index.candidates.stats().unwrap().segments.len() > 1);
        let text = "saldatore TIG muletto cuoco";
        let want = by_term_queries(&index.candidates, &analyse(text));
        assert!(want.len() > 20, "{}", want.len());
        // Every slot, a slot never used (70), in one batch.
        let slots: Vec<u32> = (0..60).chain([70]).collect();
        let got = relevance_of(&index, text, &slots);
        for (&slot, &r) in slots.iter().zip(&got) {
            let expected = want.get(&format!("C{slot:03}")).copied().unwrap_or(0.0);
            assert_eq!(r, expected, "slot {slot}");
        }
        // C005 was removed in round 1 and indexed again in round 2.
        for removed in [0, 10] {
            assert_eq!(got[removed], 0.0, "a removed document scores");
        }
        assert!(got.iter().all(|r| (0.0..=1.0).contains(r)));
        // Any order, any batches: the same relevance per slot.
        let reversed: Vec<u32> = slots.iter().rev().copied().collect();
        let mut back = relevance_of(&index, text, &reversed);
        back.reverse();
        assert_eq!(back, got);
        let mut scorer = index.candidate_scorer(&analyse(text)).unwrap();
        let mut one = Vec::new();
        for (&slot, &r) in slots.iter().zip(&got) {
            scorer.relevance_of(&[slot], &mut one).unwrap();
            assert_eq!(one, [r]);
        }
        // The whole-index ranking is the best of the same relevance: those
        // strictly above the first score left out.
        let mut scores: Vec<f64> = want.values().copied().collect();
        scores.sort_by(|a, b| b.total_cmp(a));
        for limit in [1, 3, 7, 12, 20] {
            let cut = scores[limit];
            let top: HashMap<String, f64> = want
                .iter()
                .filter(|(_, s)| **s > cut)
                .map(|(id, s)| (id.clone(), *s))
                .collect();
            let got = index
                .best_candidates_by_text(&analyse(text), limit)
                .unwrap();
            assert_eq!(got, top, "limit {limit}");
        }
    }

    #[test]
    fn a_query_no_document_holds_has_no_ceiling() {
        let dir = tempfile::tempdir().unwrap();
        let index = TextIndex::open(dir.path()).unwrap();
        index
            .upsert_candidate("C1", 0, "", "saldatore esperto")
            .unwrap();
        index.commit(1).unwrap();
        let scorer = index.candidate_scorer(&analyse("pasticcere")).unwrap();
        assert_eq!(scorer.ceiling(), 0.0);
        assert_eq!(relevance_of(&index, "pasticcere", &[0, 1]), [0.0, 0.0]);
        let scorer = index.candidate_scorer(&analyse("saldatore")).unwrap();
        assert_eq!(scorer.ceiling(), 1.0);
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
            .upsert_vacancy(
                "V1",
                0,
                "Cuoco capo partita",
                "Ristorante cerca cuoco esperto",
            )
            .unwrap();
        index
            .upsert_vacancy("V2", 1, "Magazziniere", "Uso del muletto e gestione scorte")
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
        for (slot, (id, text)) in (0..).zip(docs) {
            a.upsert_candidate(id, slot, "", text).unwrap();
        }
        a.commit(1).unwrap();
        // Same final documents, reached through updates and deletes spread
        // over several commits (segments with deleted documents, one of
        // them the best on both terms while it lived).
        let churn = tempfile::tempdir().unwrap();
        let b = TextIndex::open(churn.path()).unwrap();
        for round in 0..3 {
            for (slot, (id, text)) in (0..).zip(docs) {
                b.upsert_candidate(id, slot, "", &format!("{text} versione {round}"))
                    .unwrap();
            }
            b.upsert_candidate("GONE", 4, "", "saldatore saldatore saldatura tig")
                .unwrap();
            b.commit(round + 1).unwrap();
        }
        for (slot, (id, text)) in (0..).zip(docs) {
            b.upsert_candidate(id, slot, "", text).unwrap();
        }
        b.remove_candidate("GONE").unwrap();
        b.commit(9).unwrap();
        assert_eq!(a.candidate_docs(), b.candidate_docs());
        let slots = [0, 1, 2, 3, 4];
        let ra = relevance_of(&a, "saldatore TIG", &slots);
        let rb = relevance_of(&b, "saldatore TIG", &slots);
        assert_eq!(ra, rb);
        assert!(ra[0] > 0.0 && ra[2] > 0.0, "{ra:?}");
        assert_eq!(
            a.best_candidates_by_text(&analyse("saldatore TIG"), 10)
                .unwrap(),
            b.best_candidates_by_text(&analyse("saldatore TIG"), 10)
                .unwrap()
        );
        let raw_a = a.search_vacancies("x", 1).unwrap();
        assert!(raw_a.is_empty());
    }

    #[test]
    fn the_best_on_every_term_scores_one() {
        let dir = tempfile::tempdir().unwrap();
        let index = TextIndex::open(dir.path()).unwrap();
        index
            .upsert_candidate("C1", 0, "", "saldatore esperto saldatura TIG")
            .unwrap();
        index
            .upsert_candidate("C2", 1, "", "cameriere di sala")
            .unwrap();
        index.upsert_candidate("C3", 2, "", "saldatore").unwrap();
        index.commit(1).unwrap();
        let r = relevance_of(&index, "Saldatore TIG", &[0, 1, 2]);
        // C1 is the only one with TIG, and C3 (a shorter text) is better
        // on "saldatore": nobody is the best on both.
        assert!(r[0] > 0.0 && r[0] < 1.0, "{r:?}");
        assert_eq!(r[1], 0.0);
        assert!(r[2] > 0.0 && r[2] < r[0], "{r:?}");
        assert_eq!(relevance_of(&index, "TIG", &[0, 1, 2]), [1.0, 0.0, 0.0]);
    }
}
