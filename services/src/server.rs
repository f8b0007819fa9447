//! The gRPC `MatchService`, plus the standard health and reflection
//! services, on one tonic server.
//!
//! Queries run on the blocking pool: scoring is CPU work and must not stall
//! the async workers that move bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use incontra_engine::codice_fiscale::{CodiceFiscale, Pseudonymiser};
use incontra_engine::event::{IssuedList, ListDirection};
use incontra_engine::matching::{self, ListRequest, MatchError};
use incontra_engine::model::{Candidate, Day, ReservedQuota, Vacancy};
use incontra_engine::outcomes;
use incontra_engine::reference::ReferenceData;
use incontra_engine::scoring::RequestFilters;
use incontra_engine::state::Outcome;
use incontra_engine::state::State;
use incontra_indexer::projection::{IngestResult, ProjectionError, ReadSide};
use incontra_indexer::query::QueryError;
use incontra_kafka::{KafkaSource, SourceStatus};
use incontra_proto::events::v1 as ev;
use incontra_proto::events::v1::Envelope;
use incontra_proto::matching::v1 as pb;
use incontra_proto::matching::v1::match_service_server::{MatchService, MatchServiceServer};
use prost::Message;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::access::AccessRecorder;
use crate::admission::Admission;
use crate::auth::{Authenticator, Refusal};
use crate::convert;
use crate::lists::{self, ListRecorder};
use crate::node::Node;
use crate::policy::{Denied, ListSubject, PersonFacts, Principal, Rpc, Scope, VacancyFacts};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;
/// Each code of a request's CPI filter must be a CPI: an unknown one would
/// silently empty the list.
fn known_cpis(reference: &ReferenceData, codes: &[String]) -> Result<(), Status> {
    if codes.len() > 100 {
        return Err(Status::invalid_argument("cpi_codes: more than 100"));
    }
    match codes
        .iter()
        .enumerate()
        .find(|(_, code)| reference.cpi(code).is_none())
    {
        Some((i, code)) => Err(Status::invalid_argument(format!(
            "cpi_codes[{i}]: {:?} is not a CPI code",
            code.chars().take(16).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// Sets its flag when dropped: a handler holds one so that work it handed
/// to the blocking pool learns that the caller went away.
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Records how long a call took, in `incontra_rpc_seconds{rpc}`, when the
/// handler returns or its caller goes away.
struct Timed(Rpc, std::time::Instant);

impl Timed {
    fn start(rpc: Rpc) -> Timed {
        Timed(rpc, std::time::Instant::now())
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        metrics::histogram!("incontra_rpc_seconds", "rpc" => self.0.name())
            .record(self.1.elapsed().as_secs_f64());
    }
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2
/// hex>`), when the header is well formed; anything else is ignored rather
/// than logged, since a header is the caller's text.
fn trace_id(headers: &tonic::codegen::http::HeaderMap) -> Option<&str> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let mut parts = value.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let well_formed = hex(version, 2)
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && parts.next().is_none()
        && trace.bytes().any(|b| b != b'0');
    well_formed.then_some(trace)
}

/// Adds the outcome of the `index`-th event of an `Ingest` stream to its
/// answer.
fn tally(response: &mut pb::IngestResponse, index: u64, result: IngestResult) {
    match result {
        IngestResult::Applied { position } => {
            response.accepted += 1;
            response.journal_position = position;
        }
        IngestResult::Ignored { position, outcome } => {
            response.accepted += 1;
            response.journal_position = position;
            match outcome {
                Outcome::Ignored { reason } => {
                    response.ignored += 1;
                    response.ignored_reasons.push(pb::Rejection {
                        index,
                        event_id: String::new(),
                        reason,
                    });
                }
                Outcome::Waiting => response.waiting += 1,
                Outcome::DuplicateEvent | Outcome::StaleVersion { .. } | Outcome::Applied => {
                    response.duplicates += 1
                }
            }
        }
        IngestResult::Rejected { event_id, error } => {
            response.rejected.push(pb::Rejection {
                index,
                event_id,
                reason: error.to_string(),
            });
        }
    }
}

/// Longest attribution window a report may ask for (ten years).
const MAX_WINDOW_DAYS: u32 = 3_650;
const INGEST_BATCH: usize = 1_024;

pub struct MatchServiceImpl {
    read: Arc<ReadSide>,
    projection: Arc<std::sync::Mutex<incontra_indexer::projection::Projection>>,
    as_of: Option<Day>,
    /// Set when events come from Kafka rather than `Ingest`.
    source: Option<Arc<SourceStatus>>,
    lists: ListRecorder,
    admission: Arc<Admission>,
    access: AccessRecorder,
    pseudonymiser: Pseudonymiser,
    /// Where `VerifyIssuedList` rebuilds a past state's index.
    scratch: std::path::PathBuf,
    /// One verification at a time: each replays the journal.
    verifying: Arc<tokio::sync::Semaphore>,
}

impl MatchServiceImpl {
    /// Call within a tokio runtime (the access log's writer is a task).
    pub fn new(node: &Node, source: Option<Arc<SourceStatus>>, lists: ListRecorder) -> Self {
        Self {
            read: node.read.clone(),
            projection: node.projection.clone(),
            as_of: node.as_of,
            source,
            lists,
            admission: node.admission.clone(),
            access: AccessRecorder::new(node.access.clone()),
            pseudonymiser: node.pseudonymiser.clone(),
            scratch: node.data_dir.join("verify"),
            verifying: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// An access record of `who` under `scope`, now.
    fn access(
        &self,
        who: &Principal,
        scope: Scope,
        rpc: Rpc,
        requester: &ev::Requester,
    ) -> pb::AccessRecord {
        pb::AccessRecord {
            at_ms: now_ms(),
            subject: if who.unrestricted {
                who.subject.clone()
            } else {
                recorded_subject(who, &self.pseudonymiser)
            },
            role: scope.role.name().to_owned(),
            cpi_code: requester.cpi_code.clone(),
            rpc: rpc.name().to_owned(),
            purpose: requester.purpose.clone(),
            ..pb::AccessRecord::default()
        }
    }
}

/// Authenticates every `MatchService` call before its handler runs: the
/// bearer token's principal goes into the request's extensions, where
/// [`principal`] finds it. Without an authenticator every caller is
/// [`Principal::unrestricted`] (a node on loopback only, see
/// [`serve_with_source`]).
#[derive(Clone)]
pub struct Authenticate {
    auth: Option<Arc<Authenticator>>,
    limiter: Arc<crate::ratelimit::RateLimiter>,
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let principal = match &self.auth {
            None => Principal::unrestricted(),
            Some(auth) => {
                let token = request
                    .metadata()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        v.strip_prefix("Bearer ")
                            .or_else(|| v.strip_prefix("bearer "))
                    })
                    .map(str::trim)
                    .ok_or(Refusal::Missing);
                match token.and_then(|t| auth.verify(t)) {
                    Ok(p) => p,
                    Err(refusal) => {
                        metrics::counter!("incontra_auth_refused_total").increment(1);
                        return Err(Status::unauthenticated(refusal.to_string()));
                    }
                }
            }
        };
        // Each caller's share, before any work: by subject, or by address
        // on a node without authentication.
        let subject = (!principal.unrestricted).then_some(principal.subject.as_str());
        let key = crate::ratelimit::RateLimiter::key(subject, request.remote_addr());
        if let Err(wait) = self.limiter.check(&key, std::time::Instant::now()) {
            metrics::counter!("incontra_rate_limited_total").increment(1);
            let millis = wait.as_millis().max(1);
            let mut status = Status::resource_exhausted(format!(
                "too many calls from this client; retry in {millis} ms"
            ));
            if let Ok(value) = millis.to_string().parse() {
                status.metadata_mut().insert("retry-after-ms", value);
            }
            return Err(status);
        }
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

/// The caller, as [`Authenticate`] found it.
fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::internal("call not authenticated"))
}

fn denied(e: Denied) -> Status {
    metrics::counter!("incontra_access_denied_total").increment(1);
    Status::permission_denied(e.to_string())
}

fn vacancy_facts<'v>(v: &'v Vacancy, reference: &'v ReferenceData) -> VacancyFacts<'v> {
    let catchment = reference
        .comune(&v.spec.workplace_comune)
        .map_or("", |c| c.cpi_code.as_str());
    VacancyFacts {
        cpi: [&v.spec.cpi_code, catchment],
        reserved_quota: v.spec.reserved_quota != ReservedQuota::None,
    }
}

fn person_facts(c: &Candidate) -> PersonFacts<'_> {
    PersonFacts {
        candidate_id: &c.id,
        cpi: &c.profile.cpi_code,
    }
}

/// The pseudonym of the citizen a portal token signs in: its subject is
/// their codice fiscale (SPID's `fiscalNumber`, with or without its
/// `TINIT-` prefix), pseudonymised as the CO are. `None` for any other
/// caller.
fn citizen(who: &Principal, pseudonymiser: &Pseudonymiser) -> Option<String> {
    if !who.roles.contains(&crate::policy::Role::Portal) {
        return None;
    }
    let subject = who.subject.strip_prefix("TINIT-").unwrap_or(&who.subject);
    let cf = CodiceFiscale::parse(subject).ok()?;
    Some(pseudonymiser.pseudonym(&cf))
}

/// The candidate id of the citizen a portal token signs in.
fn own_candidate(state: &State, pseudonymiser: &Pseudonymiser, who: &Principal) -> Option<String> {
    state
        .candidate_of_person(&citizen(who, pseudonymiser)?)
        .filter(|c| !c.erased)
        .map(|c| c.id.clone())
}

/// Whether a call leaves its person to the token (the portal may: it names
/// its citizen); any other call must name one.
fn asks_for_self(who: &Principal, candidate_id: &str) -> Result<bool, Status> {
    let own = candidate_id.is_empty()
        && who.roles.contains(&crate::policy::Role::Portal)
        && !who.unrestricted;
    if !own {
        required("candidate_id", candidate_id)?;
    }
    Ok(own)
}

/// The person a call is about, and the signed-in citizen's own candidate
/// id: `candidate_id` is filled from the token when the call left it out.
fn the_person<'s>(
    state: &'s State,
    pseudonymiser: &Pseudonymiser,
    who: &Principal,
    candidate_id: &mut String,
    portal_self: bool,
) -> Result<(&'s Candidate, Option<String>), Status> {
    let own = own_candidate(state, pseudonymiser, who);
    if portal_self {
        *candidate_id = own.clone().ok_or_else(|| denied(Denied::NoCandidacy))?;
    }
    // An erased candidacy is nobody's any more.
    let person = state
        .candidate(candidate_id)
        .filter(|c| !c.erased)
        .ok_or_else(|| match_status(MatchError::UnknownCandidate(candidate_id.clone())))?;
    Ok((person, own))
}

/// Who the lists journal and the access log say asked: the token's
/// subject, except a citizen's (a portal subject is their codice fiscale),
/// kept as the pseudonym their CO are kept by, so that erasing them leaves
/// no code in either log.
fn recorded_subject(who: &Principal, pseudonymiser: &Pseudonymiser) -> String {
    citizen(who, pseudonymiser).unwrap_or_else(|| who.subject.clone())
}

/// The requester recorded with a list and in the access log: from the
/// token when the call is authenticated (the client cannot speak for
/// someone else), as the client sent it on an unauthenticated node.
fn acting_requester(
    who: &Principal,
    pseudonymiser: &Pseudonymiser,
    scope: Scope,
    mut r: ev::Requester,
) -> Result<ev::Requester, Status> {
    if who.needs_purpose(scope.role) && r.purpose.trim().is_empty() {
        return Err(Status::invalid_argument(format!(
            "requester.purpose: required of the {} role (recorded in the access log)",
            scope.role.name()
        )));
    }
    if !who.unrestricted {
        r.user_id = recorded_subject(who, pseudonymiser);
        r.channel = scope.role.name().to_owned();
        r.cpi_code = who.acting_cpi(&r.cpi_code);
    }
    Ok(r)
}

fn requester(r: Option<&ev::Requester>) -> Result<ev::Requester, Status> {
    let r = r.cloned().unwrap_or_default();
    incontra_indexer::decode::check_requester("requester", &r)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    Ok(r)
}

/// The record of a list about to be answered; call while the view it was
/// computed on is held, so the position is that of its state.
fn list_record(
    direction: ev::ListDirection,
    subject_id: &str,
    requester: ev::Requester,
    today: Day,
    read: &ReadSide,
    request: &ListRequest,
    items: &[matching::Ranked],
) -> ev::ListIssued {
    ev::ListIssued {
        query: Some(ev::ListQuery {
            limit: request.limit as u32,
            min_score: request.min_score,
            only_congrua: request.only_congrua,
            cpi_codes: request.filters.cpi_codes.clone(),
            max_distance_km: request.filters.max_distance_km,
            hide_reserved_quota: request.filters.hide_reserved_quota,
        }),
        direction: direction as i32,
        subject_id: subject_id.to_owned(),
        requester: Some(requester),
        issued_day: today,
        // Lists change no list, so the events-journal position alone says
        // what to replay to reproduce this one.
        log_position: read.applied_position(),
        weights_version: read.config.version.clone(),
        rows: lists::rows(items),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn source_status(source: Option<&SourceStatus>) -> pb::SourceStatus {
    let Some(source) = source else {
        return pb::SourceStatus {
            kind: "embedded".into(),
            caught_up: true,
            ..pb::SourceStatus::default()
        };
    };
    let view = source.view();
    pb::SourceStatus {
        kind: "kafka".into(),
        caught_up: view.caught_up,
        lag: view.total_lag,
        partitions: view
            .partitions
            .into_iter()
            .map(|p| pb::PartitionStatus {
                topic: p.topic,
                partition: p.partition,
                next_offset: p.next_offset,
                high_watermark: p.high_watermark.unwrap_or(-1),
                lag: p.lag.unwrap_or(0),
            })
            .collect(),
        consumed: view.consumed,
        dead_lettered: view.dead_lettered,
        last_error: view.fatal.or(view.last_error).unwrap_or_default(),
    }
}

/// Today's date (UTC) as a [`Day`], unless the node is pinned to a date.
pub fn today(as_of: Option<Day>) -> Day {
    as_of.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        i32::try_from(secs / 86_400).unwrap_or(i32::MAX)
    })
}

/// `limit` of a list request: 0 means the default; larger than the cap is
/// served at the cap rather than refused, as search APIs usually do.
fn limit(value: u32) -> usize {
    (match value {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    }) as usize
}

fn required(field: &str, value: &str) -> Result<(), Status> {
    if value.trim().is_empty() {
        return Err(Status::invalid_argument(format!("{field}: required")));
    }
    if value.len() > 1_000 {
        return Err(Status::invalid_argument(format!(
            "{field}: longer than 1000 bytes"
        )));
    }
    Ok(())
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn match_status(e: MatchError) -> Status {
    match e {
        MatchError::UnknownVacancy(_) | MatchError::UnknownCandidate(_) => {
            Status::not_found(e.to_string())
        }
        MatchError::UnknownComune(_) => Status::failed_precondition(e.to_string()),
        MatchError::Text(_) => internal(e),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

fn projection_status(e: ProjectionError) -> Status {
    Status::internal(e.to_string())
}

fn query_status(e: QueryError) -> Status {
    match e {
        QueryError::Match(e) => match_status(e),
        QueryError::Projection(e) => projection_status(e),
    }
}

#[tonic::async_trait]
impl MatchService for MatchServiceImpl {
    async fn search_vacancies(
        &self,
        request: Request<pb::SearchVacanciesRequest>,
    ) -> Result<Response<pb::SearchVacanciesResponse>, Status> {
        let _timed = Timed::start(Rpc::SearchVacancies);
        principal(&request)?
            .may(Rpc::SearchVacancies)
            .map_err(denied)?;
        let r = request.into_inner();
        required("query", &r.query)?;
        let limit = limit(r.limit);
        let read = self.read.clone();
        let today = today(self.as_of);
        let ticket = self.admission.enter().await?;
        blocking(move || {
            let _ticket = ticket;
            // Ask for more than needed: the index holds open vacancies, but
            // some may have expired since their last event.
            let hits = read
                .index
                .search_vacancies(&r.query, limit * 2)
                .map_err(internal)?;
            let state = read.state().map_err(projection_status)?;
            let vacancies = hits
                .into_iter()
                .filter_map(|(id, relevance)| {
                    let v = state.vacancy(&id)?;
                    if !v.is_open_on(today) {
                        return None;
                    }
                    let comune = read.reference.comune(&v.spec.workplace_comune);
                    Some(pb::VacancySummary {
                        vacancy_id: id,
                        title: v.spec.title.clone(),
                        comune: v.spec.workplace_comune.clone(),
                        employer: v.spec.employer.name.clone(),
                        comune_name: comune.map(|c| c.name.clone()).unwrap_or_default(),
                        province: comune.map(|c| c.province.clone()).unwrap_or_default(),
                        profession_code: v.spec.profession_code.clone(),
                        open_positions: v.open_positions(),
                        relevance: f64::from(relevance),
                    })
                })
                .take(limit)
                .collect();
            Ok(Response::new(pb::SearchVacanciesResponse { vacancies }))
        })
        .await
    }

    async fn match_candidates(
        &self,
        request: Request<pb::MatchCandidatesRequest>,
    ) -> Result<Response<pb::MatchCandidatesResponse>, Status> {
        let _timed = Timed::start(Rpc::MatchCandidates);
        let who = principal(&request)?;
        who.may(Rpc::MatchCandidates).map_err(denied)?;
        let r = request.into_inner();
        required("vacancy_id", &r.vacancy_id)?;
        let limit = limit(r.limit);
        if !(0.0..=1.0).contains(&r.min_score) {
            return Err(Status::invalid_argument("min_score: must be in [0,1]"));
        }
        known_cpis(&self.read.reference, &r.cpi_codes)?;
        let asked = requester(r.requester.as_ref())?;
        let read = self.read.clone();
        let today = today(self.as_of);
        let ticket = self.admission.enter().await?;
        let caller = who.clone();
        let pseudonymiser = self.pseudonymiser.clone();
        let (mut response, record, scope) = blocking(move || {
            let _ticket = ticket;
            let view = read.view(today).map_err(projection_status)?;
            // The scope is decided before anything of a person is read.
            let scope = {
                let vacancy = view.state().vacancy(&r.vacancy_id).ok_or_else(|| {
                    match_status(MatchError::UnknownVacancy(r.vacancy_id.clone()))
                })?;
                caller
                    .list_for_vacancy(vacancy_facts(vacancy, &read.reference))
                    .map_err(denied)?
            };
            if r.include_personal_data && !scope.personal_data {
                return Err(denied(Denied::PersonalData));
            }
            let who = acting_requester(&caller, &pseudonymiser, scope, asked)?;
            let request = ListRequest {
                limit,
                filters: RequestFilters {
                    cpi_codes: r.cpi_codes.clone(),
                    max_distance_km: r.max_distance_km,
                    hide_reserved_quota: !scope.reserved_quota,
                },
                min_score: r.min_score,
                only_congrua: r.only_congrua,
                count_exclusions: r.count_exclusions,
            };
            let list = view
                .candidates_for(&r.vacancy_id, &request)
                .map_err(query_status)?;
            let state = view.state();
            let mut personal_data = Vec::new();
            let matches = list
                .items
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    if r.include_personal_data {
                        if let Some(p) = view.personal_data(&m.id) {
                            personal_data.push(convert::personal(&m.id, &p));
                        }
                    }
                    pb::CandidateMatch {
                        candidate_id: m.id.clone(),
                        score: m.score,
                        contributions: m.contributions.iter().map(convert::contribution).collect(),
                        rank: i as u32 + 1,
                        distance_km: m.distance_km,
                        congruity: m.congruity.as_ref().map(convert::congruity),
                        cpi_code: state
                            .candidate(&m.id)
                            .map(|c| c.profile.cpi_code.clone())
                            .unwrap_or_default(),
                    }
                })
                .collect();
            let record = list_record(
                ev::ListDirection::CandidatesForVacancy,
                &r.vacancy_id,
                who,
                today,
                &read,
                &request,
                &list.items,
            );
            Ok((
                pb::MatchCandidatesResponse {
                    matches,
                    personal_data,
                    considered: list.considered,
                    excluded: convert::excluded(&list),
                    journal_position: read.applied_position(),
                    list_id: String::new(),
                },
                record,
                scope,
            ))
        })
        .await?;
        let requester = record.requester.clone().unwrap_or_default();
        let vacancy_id = record.subject_id.clone();
        response.list_id = self.lists.record(record, now_ms()).await?;
        self.access
            .record(pb::AccessRecord {
                candidate_ids: response
                    .matches
                    .iter()
                    .map(|m| m.candidate_id.clone())
                    .collect(),
                personal_data: !response.personal_data.is_empty(),
                vacancy_id,
                list_id: response.list_id.clone(),
                ..self.access(&who, scope, Rpc::MatchCandidates, &requester)
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn match_vacancies(
        &self,
        request: Request<pb::MatchVacanciesRequest>,
    ) -> Result<Response<pb::MatchVacanciesResponse>, Status> {
        let _timed = Timed::start(Rpc::MatchVacancies);
        let who = principal(&request)?;
        who.may(Rpc::MatchVacancies).map_err(denied)?;
        let mut r = request.into_inner();
        // The portal may leave the person out: the token names them.
        let portal_self = asks_for_self(&who, &r.candidate_id)?;
        let limit = limit(r.limit);
        let asked = requester(r.requester.as_ref())?;
        let read = self.read.clone();
        let today = today(self.as_of);
        let ticket = self.admission.enter().await?;
        let caller = who.clone();
        let pseudonymiser = self.pseudonymiser.clone();
        let (mut response, record, scope) = blocking(move || {
            let _ticket = ticket;
            let view = read.view(today).map_err(projection_status)?;
            let scope = {
                let state = view.state();
                let (person, own) = the_person(
                    state,
                    &pseudonymiser,
                    &caller,
                    &mut r.candidate_id,
                    portal_self,
                )?;
                caller
                    .list_for_person(person_facts(person), own.as_deref())
                    .map_err(denied)?
            };
            let who = acting_requester(&caller, &pseudonymiser, scope, asked)?;
            let request = ListRequest {
                limit,
                only_congrua: r.only_congrua,
                count_exclusions: r.count_exclusions,
                filters: RequestFilters {
                    hide_reserved_quota: !scope.reserved_quota,
                    ..RequestFilters::default()
                },
                ..ListRequest::default()
            };
            let list = view
                .vacancies_for(&r.candidate_id, &request)
                .map_err(query_status)?;
            let state = view.state();
            let matches = list
                .items
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let v = state.vacancy(&m.id);
                    pb::VacancyMatch {
                        vacancy_id: m.id.clone(),
                        score: m.score,
                        contributions: m.contributions.iter().map(convert::contribution).collect(),
                        rank: i as u32 + 1,
                        title: v.map(|v| v.spec.title.clone()).unwrap_or_default(),
                        comune: v
                            .map(|v| v.spec.workplace_comune.clone())
                            .unwrap_or_default(),
                        distance_km: m.distance_km,
                        employer: v.map(|v| v.spec.employer.name.clone()).unwrap_or_default(),
                        congruity: m.congruity.as_ref().map(convert::congruity),
                    }
                })
                .collect();
            let record = list_record(
                ev::ListDirection::VacanciesForCandidate,
                &r.candidate_id,
                who,
                today,
                &read,
                &request,
                &list.items,
            );
            Ok((
                pb::MatchVacanciesResponse {
                    matches,
                    considered: list.considered,
                    excluded: convert::excluded(&list),
                    list_id: String::new(),
                    journal_position: read.applied_position(),
                },
                record,
                scope,
            ))
        })
        .await?;
        let requester = record.requester.clone().unwrap_or_default();
        let candidate_id = record.subject_id.clone();
        response.list_id = self.lists.record(record, now_ms()).await?;
        self.access
            .record(pb::AccessRecord {
                candidate_ids: vec![candidate_id],
                list_id: response.list_id.clone(),
                ..self.access(&who, scope, Rpc::MatchVacancies, &requester)
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn explain(
        &self,
        request: Request<pb::ExplainRequest>,
    ) -> Result<Response<pb::ExplainResponse>, Status> {
        let _timed = Timed::start(Rpc::Explain);
        let who = principal(&request)?;
        who.may(Rpc::Explain).map_err(denied)?;
        let mut r = request.into_inner();
        required("vacancy_id", &r.vacancy_id)?;
        let portal_self = asks_for_self(&who, &r.candidate_id)?;
        let asked = requester(r.requester.as_ref())?;
        let read = self.read.clone();
        let today = today(self.as_of);
        let caller = who.clone();
        // An explanation computes like a list (every filter, every
        // criterion, the congruity verdict): it takes a slot like one, and
        // a caller that leaves while waiting takes its work with it.
        let ticket = self.admission.enter().await?;
        let pseudonymiser = self.pseudonymiser.clone();
        let (response, scope, requester, (vacancy_id, candidate_id)) = blocking(move || {
            let _ticket = ticket;
            let view = read.view(today).map_err(projection_status)?;
            let scope = {
                let state = view.state();
                let (person, own) = the_person(
                    state,
                    &pseudonymiser,
                    &caller,
                    &mut r.candidate_id,
                    portal_self,
                )?;
                let vacancy = state.vacancy(&r.vacancy_id).ok_or_else(|| {
                    match_status(MatchError::UnknownVacancy(r.vacancy_id.clone()))
                })?;
                caller
                    .explain(
                        vacancy_facts(vacancy, &read.reference),
                        person_facts(person),
                        own.as_deref(),
                    )
                    .map_err(denied)?
            };
            let requester = acting_requester(&caller, &pseudonymiser, scope, asked)?;
            let eval = view
                .explain(&r.vacancy_id, &r.candidate_id)
                .map_err(query_status)?;
            let response = pb::ExplainResponse {
                eligible: eval.eligible,
                filters: eval.filters.iter().map(convert::verdict).collect(),
                score: eval.score,
                contributions: eval
                    .contributions
                    .iter()
                    .map(convert::contribution)
                    .collect(),
                congruity: eval.congruity.as_ref().map(convert::congruity),
            };
            Ok((response, scope, requester, (r.vacancy_id, r.candidate_id)))
        })
        .await?;
        self.access
            .record(pb::AccessRecord {
                candidate_ids: vec![candidate_id],
                vacancy_id,
                ..self.access(&who, scope, Rpc::Explain, &requester)
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn ingest(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<pb::IngestResponse>, Status> {
        let _timed = Timed::start(Rpc::Ingest);
        principal(&request)?.may(Rpc::Ingest).map_err(denied)?;
        if self.source.is_some() {
            return Err(Status::failed_precondition(
                "this replica is fed from Kafka; produce events to its topics instead",
            ));
        }
        let stream = request.into_inner();
        let mut chunks =
            std::pin::pin!(stream.chunks_timeout(INGEST_BATCH, Duration::from_millis(5)));
        let mut response = pb::IngestResponse::default();
        let mut index: u64 = 0;
        let mut broken = None;
        while let Some(chunk) = chunks.next().await {
            let mut batch = Vec::with_capacity(chunk.len());
            for item in chunk {
                match item {
                    Ok(envelope) => batch.push(envelope.encode_to_vec()),
                    // The good events before a bad frame are kept: journal
                    // them, then say where the stream broke.
                    Err(status) => {
                        broken = Some(status);
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                let projection = self.projection.clone();
                let results = blocking(move || {
                    let mut p = projection
                        .lock()
                        .map_err(|_| Status::internal("projection lock poisoned"))?;
                    p.ingest(&batch).map_err(projection_status)
                })
                .await?;
                for result in results {
                    tally(&mut response, index, result);
                    index += 1;
                }
            }
            if broken.is_some() {
                break;
            }
        }
        // Make this call's events searchable before answering, also when
        // the stream broke after some of them.
        let projection = self.projection.clone();
        blocking(move || {
            let mut p = projection
                .lock()
                .map_err(|_| Status::internal("projection lock poisoned"))?;
            p.commit_index().map_err(projection_status)
        })
        .await?;
        if let Some(status) = broken {
            let what =
                if status.code() == tonic::Code::Internal && status.message().contains("decode") {
                    "is not an Envelope"
                } else {
                    "could not be read"
                };
            return Err(Status::invalid_argument(format!(
                "stream frame {index} {what} ({}); the {} events before it were accepted, up to \
                 journal position {}: resend from frame {index}",
                status.message(),
                response.accepted,
                response.journal_position
            )));
        }
        Ok(Response::new(response))
    }

    async fn get_outcomes(
        &self,
        request: Request<pb::GetOutcomesRequest>,
    ) -> Result<Response<pb::GetOutcomesResponse>, Status> {
        let _timed = Timed::start(Rpc::GetOutcomes);
        principal(&request)?.may(Rpc::GetOutcomes).map_err(denied)?;
        let r = request.into_inner();
        let today = today(self.as_of);
        let from = if r.from_day == 0 {
            Day::MIN
        } else {
            r.from_day
        };
        let to = if r.to_day == 0 { today } else { r.to_day };
        if from > to {
            return Err(Status::invalid_argument("from_day: after to_day"));
        }
        let window = match r.window_days {
            0 => outcomes::DEFAULT_WINDOW_DAYS,
            w if w <= MAX_WINDOW_DAYS => w,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "window_days: at most {MAX_WINDOW_DAYS}"
                )))
            }
        };
        let read = self.read.clone();
        let projection = self.projection.clone();
        // A report reads the whole state (seconds at a million people).
        let ticket = self.admission.enter().await?;
        blocking(move || {
            let _ticket = ticket;
            let report = crate::outcome_metrics::report(&projection, &read, from, to, window)
                .map_err(projection_status)?;
            Ok(Response::new(convert::outcomes(&report)))
        })
        .await
    }

    async fn get_access_log(
        &self,
        request: Request<pb::GetAccessLogRequest>,
    ) -> Result<Response<pb::GetAccessLogResponse>, Status> {
        let _timed = Timed::start(Rpc::GetAccessLog);
        self.access_log(request).await
    }

    async fn erase_person(
        &self,
        request: Request<pb::ErasePersonRequest>,
    ) -> Result<Response<pb::ErasePersonResponse>, Status> {
        let _timed = Timed::start(Rpc::ErasePerson);
        self.erase(request).await
    }

    async fn get_issued_list(
        &self,
        request: Request<pb::GetIssuedListRequest>,
    ) -> Result<Response<pb::GetIssuedListResponse>, Status> {
        let _timed = Timed::start(Rpc::GetIssuedList);
        let who = principal(&request)?;
        who.may(Rpc::GetIssuedList).map_err(denied)?;
        let r = request.into_inner();
        let (list, scope, requester) = self
            .issued_list(&who, Rpc::GetIssuedList, &r.list_id, r.requester.as_ref())
            .await?;
        self.access
            .record(pb::AccessRecord {
                list_id: r.list_id.clone(),
                ..self.issued_access(&who, scope, Rpc::GetIssuedList, &requester, &list)
            })
            .await?;
        Ok(Response::new(pb::GetIssuedListResponse {
            list_id: r.list_id,
            list: Some(crate::issued::to_proto(&list)),
            issued_at_ms: list.issued_at_ms,
        }))
    }

    async fn verify_issued_list(
        &self,
        request: Request<pb::VerifyIssuedListRequest>,
    ) -> Result<Response<pb::VerifyIssuedListResponse>, Status> {
        let _timed = Timed::start(Rpc::VerifyIssuedList);
        let who = principal(&request)?;
        who.may(Rpc::VerifyIssuedList).map_err(denied)?;
        let r = request.into_inner();
        let (list, scope, requester) = self
            .issued_list(
                &who,
                Rpc::VerifyIssuedList,
                &r.list_id,
                r.requester.as_ref(),
            )
            .await?;
        let _slot = self.verifying.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted("a verification is running; ask again when it ends")
        })?;
        let (reader, preparer) = {
            let p = self
                .projection
                .lock()
                .map_err(|_| Status::internal("projection lock poisoned"))?;
            (p.journal_reader().map_err(projection_status)?, p.preparer())
        };
        let read = self.read.clone();
        let scratch = self
            .scratch
            .join(format!("{}-{}", std::process::id(), now_ms()));
        let list_id = r.list_id.clone();
        let checked = list.clone();
        // Set when this call's future is dropped (its caller went away):
        // the replay stops instead of running on for nobody.
        let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(cancelled.clone());
        let answer = blocking(move || {
            let answer = crate::issued::verify(
                &list_id, &checked, &read, &preparer, reader, &scratch, &cancelled,
            );
            // The copy is gone whatever happened.
            let _ = std::fs::remove_dir_all(&scratch);
            answer.map_err(internal)
        })
        .await?;
        self.access
            .record(pb::AccessRecord {
                list_id: r.list_id,
                ..self.issued_access(&who, scope, Rpc::VerifyIssuedList, &requester, &list)
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_status(
        &self,
        request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, Status> {
        let _timed = Timed::start(Rpc::GetStatus);
        let who = principal(&request)?;
        who.may(Rpc::GetStatus).map_err(denied)?;
        let include_digest = request.into_inner().include_digest;
        // The digest is a pass over the whole state: it waits for a slot
        // like a list does.
        let ticket = if include_digest {
            who.may_read_digest().map_err(denied)?;
            Some(self.admission.enter().await?)
        } else {
            None
        };
        let read = self.read.clone();
        let projection = self.projection.clone();
        let today = today(self.as_of);
        let source = source_status(self.source.as_deref());
        blocking(move || {
            let _ticket = ticket;
            let (journal_position, snapshot_position, lists) = {
                let mut p = projection
                    .lock()
                    .map_err(|_| Status::internal("projection lock poisoned"))?;
                // Every list acknowledged before this call is in the counts
                // and the digest.
                p.apply_recorded_lists().map_err(projection_status)?;
                (
                    p.journal_position(),
                    p.snapshot_position(),
                    p.lists_journal(),
                )
            };
            let lists_journal_position =
                lists.position().map_err(|e| projection_status(e.into()))?;
            let view = read.view(today).map_err(projection_status)?;
            let state = view.state();
            let counts = view.status();
            let c = state.counters();
            Ok(Response::new(pb::GetStatusResponse {
                vacancies: counts.vacancies,
                open_vacancies: counts.open_vacancies,
                candidates: counts.candidates,
                available_candidates: counts.available_candidates,
                events_applied: c.applied,
                events_ignored: c.duplicates + c.stale + c.ignored,
                journal_position,
                snapshot_position,
                employment_records: counts.employment_records,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                state_digest: if include_digest {
                    state.digest()
                } else {
                    String::new()
                },
                source: Some(source),
                lists_journal_position,
            }))
        })
        .await
    }
}

/// Most access records one `GetAccessLog` answers.
const MAX_ACCESS_RECORDS: u32 = 10_000;

impl MatchServiceImpl {
    async fn access_log(
        &self,
        request: Request<pb::GetAccessLogRequest>,
    ) -> Result<Response<pb::GetAccessLogResponse>, Status> {
        principal(&request)?
            .may(Rpc::GetAccessLog)
            .map_err(denied)?;
        let r = request.into_inner();
        if r.candidate_id.len() > 1_000 {
            return Err(Status::invalid_argument(
                "candidate_id: longer than 1000 bytes",
            ));
        }
        if r.from_ms != 0 && r.to_ms != 0 && r.from_ms > r.to_ms {
            return Err(Status::invalid_argument("from_ms: after to_ms"));
        }
        let limit = match r.limit {
            0 => 100,
            n if n <= MAX_ACCESS_RECORDS => n,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "limit: at most {MAX_ACCESS_RECORDS}"
                )))
            }
        };
        let log = self.access.log().clone();
        // The log is scanned: it waits for a slot like any computation.
        let ticket = self.admission.enter().await?;
        blocking(move || {
            let _ticket = ticket;
            let records = log
                .query(&r.candidate_id, r.from_ms, r.to_ms, limit as usize)
                .map_err(internal)?;
            Ok(Response::new(pb::GetAccessLogResponse { records }))
        })
        .await
    }
}

impl MatchServiceImpl {
    /// A recorded list and the caller's scope over it (the recorded lists
    /// are folded first, so every list answered before this call is found).
    async fn issued_list(
        &self,
        who: &Principal,
        rpc: Rpc,
        list_id: &str,
        requester: Option<&ev::Requester>,
    ) -> Result<(IssuedList, Scope, ev::Requester), Status> {
        required("list_id", list_id)?;
        let asked = self::requester(requester)?;
        let projection = self.projection.clone();
        let read = self.read.clone();
        let today = today(self.as_of);
        let pseudonymiser = self.pseudonymiser.clone();
        let caller = who.clone();
        let list_id = list_id.to_owned();
        blocking(move || {
            projection
                .lock()
                .map_err(|_| Status::internal("projection lock poisoned"))?
                .apply_recorded_lists()
                .map_err(projection_status)?;
            let view = read.view(today).map_err(projection_status)?;
            let state = view.state();
            let list = state
                .list(&list_id)
                .cloned()
                .ok_or_else(|| Status::not_found("list_id: no such list"))?;
            let scope = match list.direction {
                ListDirection::CandidatesForVacancy => {
                    let vacancy = state
                        .vacancy(&list.subject_id)
                        .ok_or_else(|| Status::not_found("the list's vacancy is unknown"))?;
                    caller.issued_list(
                        rpc,
                        ListSubject::Vacancy(vacancy_facts(vacancy, &read.reference)),
                    )
                }
                ListDirection::VacanciesForCandidate => {
                    let person = state
                        .candidate(&list.subject_id)
                        .ok_or_else(|| Status::not_found("the list's candidate is unknown"))?;
                    let own = own_candidate(state, &pseudonymiser, &caller);
                    caller.issued_list(
                        rpc,
                        ListSubject::Person {
                            person: person_facts(person),
                            own: own.as_deref(),
                            reserved_quota: list
                                .query
                                .as_ref()
                                .is_none_or(|q| !q.hide_reserved_quota),
                        },
                    )
                }
            }
            .map_err(denied)?;
            let requester = acting_requester(&caller, &pseudonymiser, scope, asked)?;
            Ok((list, scope, requester))
        })
        .await
    }

    /// The access record of a read of a recorded list: the people on it.
    fn issued_access(
        &self,
        who: &Principal,
        scope: Scope,
        rpc: Rpc,
        requester: &ev::Requester,
        list: &IssuedList,
    ) -> pb::AccessRecord {
        let (vacancy_id, candidate_ids) = match list.direction {
            ListDirection::CandidatesForVacancy => (
                list.subject_id.clone(),
                list.rows.iter().map(|r| r.id.clone()).collect(),
            ),
            ListDirection::VacanciesForCandidate => (String::new(), vec![list.subject_id.clone()]),
        };
        pb::AccessRecord {
            vacancy_id,
            candidate_ids,
            ..self.access(who, scope, rpc, requester)
        }
    }

    async fn erase(
        &self,
        request: Request<pb::ErasePersonRequest>,
    ) -> Result<Response<pb::ErasePersonResponse>, Status> {
        let who = principal(&request)?;
        let scope = who.plain_scope(Rpc::ErasePerson).map_err(denied)?;
        if self.source.is_some() {
            return Err(Status::failed_precondition(
                "this replica is fed from Kafka: publish an Erasure envelope, keyed by the \
                 candidate id, to the candidacies topic, so that every replica erases",
            ));
        }
        let r = request.into_inner();
        if r.reason.trim().is_empty() {
            return Err(Status::invalid_argument("reason: required"));
        }
        if r.reason.len() > 500 {
            return Err(Status::invalid_argument("reason: longer than 500 bytes"));
        }
        let by_code = match (r.candidate_id.is_empty(), r.codice_fiscale.is_empty()) {
            (false, true) => None,
            (true, false) => Some(CodiceFiscale::parse(&r.codice_fiscale).map_err(|_| {
                Status::invalid_argument("codice_fiscale: not a valid codice fiscale")
            })?),
            _ => {
                return Err(Status::invalid_argument(
                    "candidate_id: exactly one of candidate_id and codice_fiscale",
                ))
            }
        };
        let candidate_id = {
            let view = self
                .read
                .view(today(self.as_of))
                .map_err(projection_status)?;
            let state = view.state();
            let found = match &by_code {
                Some(cf) => state.candidate_of_person(&self.pseudonymiser.pseudonym(cf)),
                None => state.candidate(&r.candidate_id),
            };
            match found {
                Some(c) if c.erased => {
                    return Err(Status::failed_precondition("candidate_id: already erased"))
                }
                Some(c) => c.id.clone(),
                None => return Err(Status::not_found("no such candidacy")),
            }
        };
        let at = now_ms();
        let envelope = Envelope {
            event_id: format!("erasure-{candidate_id}-{at}"),
            entity_id: candidate_id.clone(),
            // One erasure per candidacy: a second is stale, and was refused
            // above anyway.
            entity_version: 1,
            occurred_at_ms: at,
            source: "incontra-admin".into(),
            schema_version: incontra_indexer::decode::SCHEMA_VERSION,
            payload: Some(ev::envelope::Payload::Erasure(ev::Erasure {
                reason: r.reason.clone(),
            })),
        };
        let projection = self.projection.clone();
        let results = blocking(move || {
            let mut p = projection
                .lock()
                .map_err(|_| Status::internal("projection lock poisoned"))?;
            p.ingest(&[envelope.encode_to_vec()])
                .map_err(projection_status)
        })
        .await?;
        let journal_position = match results.first() {
            Some(IngestResult::Applied { position }) => *position,
            Some(IngestResult::Ignored { outcome, .. }) => {
                return Err(Status::failed_precondition(format!(
                    "candidate_id: not erased ({outcome:?})"
                )))
            }
            Some(IngestResult::Rejected { error, .. }) => {
                return Err(Status::invalid_argument(error.to_string()))
            }
            None => return Err(Status::internal("the erasure was not journaled")),
        };
        let requester = ev::Requester {
            purpose: r.reason,
            ..ev::Requester::default()
        };
        self.access
            .record(pb::AccessRecord {
                candidate_ids: vec![candidate_id.clone()],
                ..self.access(&who, scope, Rpc::ErasePerson, &requester)
            })
            .await?;
        tracing::info!(journal_position, "a candidacy was erased");
        Ok(Response::new(pb::ErasePersonResponse {
            candidate_id,
            journal_position,
        }))
    }
}

/// Serves `MatchService`, health and reflection on `addr` until `shutdown`
/// resolves; then commits the index and writes a snapshot.
pub async fn serve(
    node: &Node,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(node, listener, shutdown).await
}

pub async fn serve_on(
    node: &Node,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    serve_with_source(node, listener, None, shutdown).await
}

/// Without authentication anyone who reaches the port reads everything:
/// tolerable on loopback (a developer's machine), nowhere else.
fn may_listen(authenticated: bool, local: SocketAddr) -> anyhow::Result<()> {
    if !authenticated && !local.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve on {local} without authentication: give --auth-config, or listen on 127.0.0.1"
        );
    }
    Ok(())
}

/// How often readiness follows the Kafka source's lag.
const READINESS_INTERVAL: Duration = Duration::from_millis(250);

/// As [`serve_on`], with events arriving from a Kafka `source`: readiness
/// (gRPC health) follows its lag, `Ingest` is refused, and the source is
/// stopped before the final snapshot. If the source dies the server shuts
/// down with its error, so an orchestrator restarts the replica.
pub async fn serve_with_source(
    node: &Node,
    listener: tokio::net::TcpListener,
    source: Option<KafkaSource>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let status = source.as_ref().map(|s| s.status());
    let (source_failed_tx, source_failed_rx) = tokio::sync::oneshot::channel::<String>();
    let readiness = match &status {
        None => {
            health_reporter
                .set_serving::<MatchServiceServer<MatchServiceImpl>>()
                .await;
            None
        }
        Some(status) => {
            let status = status.clone();
            let reporter = health_reporter.clone();
            Some(tokio::spawn(async move {
                let mut failed = Some(source_failed_tx);
                let mut serving = None;
                let mut tick = tokio::time::interval(READINESS_INTERVAL);
                loop {
                    tick.tick().await;
                    let view = status.view();
                    if let Some(fatal) = view.fatal {
                        if let Some(tx) = failed.take() {
                            let _ = tx.send(fatal);
                        }
                    }
                    if serving != Some(view.caught_up) {
                        let state = if view.caught_up {
                            tonic_health::ServingStatus::Serving
                        } else {
                            tonic_health::ServingStatus::NotServing
                        };
                        tracing::info!(
                            caught_up = view.caught_up,
                            lag = view.total_lag,
                            "readiness"
                        );
                        reporter.set_service_status("", state).await;
                        reporter
                            .set_service_status(
                                <MatchServiceServer<MatchServiceImpl> as tonic::server::NamedService>::NAME,
                                state,
                            )
                            .await;
                        serving = Some(view.caught_up);
                    }
                }
            }))
        }
    };
    let mut source_error = None;
    let shutdown = async {
        tokio::select! {
            () = shutdown => {}
            Ok(error) = source_failed_rx => {
                tracing::error!(%error, "kafka source failed; shutting down");
                source_error = Some(error);
            }
        }
    };
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(incontra_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(incontra_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // Commit the index once a second while idle-ingesting, so what a batch
    // applied becomes searchable even when no further batch arrives.
    let committer = {
        let projection = node.projection.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let projection = projection.clone();
                let result = tokio::task::spawn_blocking(move || {
                    projection
                        .lock()
                        .map_err(|_| "projection lock poisoned".to_string())
                        .and_then(|mut p| p.commit_index().map_err(|e| e.to_string()))
                })
                .await;
                if let Ok(Err(e)) | Err(e) = result.map_err(|e| e.to_string()) {
                    tracing::error!(error = %e, "periodic index commit failed");
                }
            }
        })
    };

    let recorder = match &source {
        Some(source) => ListRecorder::Kafka(source.list_publisher()),
        None => ListRecorder::journal(node.projection.clone())?,
    };
    let outcome_metrics = tokio::spawn(crate::outcome_metrics::run(
        node.projection.clone(),
        node.read.clone(),
        node.as_of,
    ));

    let local = listener.local_addr()?;
    may_listen(node.auth.is_some(), local)?;
    let authenticate = Authenticate {
        limiter: node.limiter.clone(),
        auth: node.auth.clone(),
    };
    if node.auth.is_none() {
        tracing::warn!(%local, "no authentication configured: every caller is unrestricted (loopback only)");
    }
    // A rotated key set is picked up within a second.
    let jwks_reloader = node.auth.clone().map(|auth| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                match auth.reload_if_changed() {
                    Ok(true) => tracing::info!("JWKS reloaded"),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::error!(%error, "JWKS not reloaded; keeping the previous keys")
                    }
                }
            }
        })
    });
    tracing::info!(%local, "serving incontra.match.v1.MatchService");
    // Without TCP_NODELAY a response's header and body frames wait on the
    // client's delayed ACK: a flat 40 ms on every call.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    // Every call's log lines carry its path and the W3C trace id the caller
    // sent, so a request can be followed from the gateway into the node.
    let mut builder = tonic::transport::Server::builder().trace_fn(|request| {
        tracing::info_span!(
            "call",
            path = %request.uri().path(),
            trace_id = %trace_id(request.headers()).unwrap_or("-"),
        )
    });
    if let Some(tls) = &node.tls {
        builder = builder.tls_config(tls.clone())?;
    }
    let result = builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(MatchServiceServer::with_interceptor(
            MatchServiceImpl::new(node, status, recorder),
            authenticate,
        ))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    committer.abort();
    outcome_metrics.abort();
    if let Some(task) = jwks_reloader {
        task.abort();
    }
    if let Some(task) = readiness {
        task.abort();
    }
    if let Some(source) = source {
        // The batch in hand is finished first, so the snapshot below holds
        // the checkpoint of everything applied.
        tokio::task::spawn_blocking(move || source.stop()).await??;
    }
    let projection = node.projection.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut p = projection
            .lock()
            .map_err(|_| anyhow::anyhow!("projection lock poisoned"))?;
        p.snapshot()?;
        Ok(())
    })
    .await??;
    result?;
    if let Some(error) = source_error {
        anyhow::bail!("kafka source failed: {error}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_authentication_only_loopback_is_served() {
        let addr = |s: &str| s.parse::<std::net::SocketAddr>().expect("address");
        assert!(super::may_listen(false, addr("127.0.0.1:50051")).is_ok());
        assert!(super::may_listen(false, addr("[::1]:50051")).is_ok());
        assert!(super::may_listen(false, addr("0.0.0.0:50051")).is_err());
        assert!(super::may_listen(false, addr("10.1.2.3:50051")).is_err());
        assert!(super::may_listen(true, addr("0.0.0.0:50051")).is_ok());
    }

    #[test]
    fn a_well_formed_traceparent_gives_its_trace_id_and_nothing_else_does() {
        let with = |value: &str| {
            let mut headers = tonic::codegen::http::HeaderMap::new();
            headers.insert("traceparent", value.parse().expect("header"));
            super::trace_id(&headers).map(str::to_owned)
        };
        assert_eq!(
            with("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "<script>-x-y-z",
        ] {
            assert_eq!(with(bad), None, "{bad}");
        }
        assert_eq!(
            super::trace_id(&tonic::codegen::http::HeaderMap::new()),
            None
        );
    }
}
