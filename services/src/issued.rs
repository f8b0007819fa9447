//! Issued lists on record: a recorded list as the API returns it
//! (`GetIssuedList`), and the check that computes it again on the state at
//! its log position and compares it row by row (`VerifyIssuedList`): the
//! answer to "why was I not on that list last March".

use std::path::Path;
use std::sync::atomic::AtomicBool;

use incontra_engine::event::{IssuedList, ListDirection, ListQuery};
use incontra_engine::matching::ListRequest;
use incontra_engine::scoring::RequestFilters;
use incontra_indexer::decode::pack_similarities;
use incontra_indexer::journal::JournalReader;
use incontra_indexer::projection::{read_side_at, Preparer, ProjectionError, ReadSide};
use incontra_indexer::query::QueryError;
use incontra_proto::events::v1 as ev;
use incontra_proto::matching::v1 as pb;

use crate::lists;

/// The recorded list in its wire form.
pub fn to_proto(list: &IssuedList) -> ev::ListIssued {
    ev::ListIssued {
        direction: match list.direction {
            ListDirection::CandidatesForVacancy => ev::ListDirection::CandidatesForVacancy,
            ListDirection::VacanciesForCandidate => ev::ListDirection::VacanciesForCandidate,
        } as i32,
        subject_id: list.subject_id.clone(),
        requester: Some(ev::Requester {
            user_id: list.requester.user_id.clone(),
            cpi_code: list.requester.cpi_code.clone(),
            channel: list.requester.channel.clone(),
            campaign_id: list.requester.campaign_id.clone(),
            purpose: String::new(),
        }),
        issued_day: list.issued_day,
        log_position: list.log_position,
        weights_version: list.weights_version.clone(),
        rows: list
            .rows
            .iter()
            .map(|r| ev::ListedRow {
                id: r.id.clone(),
                score: r.score,
                similarities: r.similarities.clone(),
                packed_similarities: Vec::new(),
            })
            .collect(),
        query: list.query.as_ref().map(|q| ev::ListQuery {
            limit: q.limit,
            min_score: q.min_score,
            only_congrua: q.only_congrua,
            cpi_codes: q.cpi_codes.clone(),
            max_distance_km: q.max_distance_km,
            hide_reserved_quota: q.hide_reserved_quota,
        }),
    }
}

fn request(q: &ListQuery) -> ListRequest {
    ListRequest {
        limit: q.limit as usize,
        filters: RequestFilters {
            cpi_codes: q.cpi_codes.clone(),
            max_distance_km: q.max_distance_km,
            hide_reserved_quota: q.hide_reserved_quota,
        },
        min_score: q.min_score,
        only_congrua: q.only_congrua,
        count_exclusions: false,
    }
}

/// Why a list could not be computed again.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Projection(#[from] ProjectionError),
    #[error("{0}")]
    Query(#[from] QueryError),
}

/// Computes `list` again on the state at its log position, rebuilt in
/// `scratch` from `reader`, and compares the two row by row. A list this
/// node cannot judge the way it was judged (other weights, no recorded
/// query) is answered as not reproduced, with the reason.
pub fn verify(
    list_id: &str,
    list: &IssuedList,
    live: &ReadSide,
    preparer: &Preparer,
    reader: JournalReader,
    scratch: &Path,
    cancelled: &AtomicBool,
) -> Result<pb::VerifyIssuedListResponse, VerifyError> {
    let mut answer = pb::VerifyIssuedListResponse {
        list_id: list_id.to_owned(),
        log_position: list.log_position,
        ..Default::default()
    };
    let Some(query) = &list.query else {
        answer.reason = "recorded before lists kept their query: it cannot be asked again".into();
        return Ok(answer);
    };
    if list.weights_version != live.config.version {
        answer.reason = format!(
            "ranked with weights {:?}, and this node scores with {:?}",
            list.weights_version, live.config.version
        );
        return Ok(answer);
    }
    let past = read_side_at(
        live,
        preparer,
        reader,
        list.log_position,
        scratch,
        cancelled,
    )?;
    let view = past.view(list.issued_day)?;
    let recomputed = match list.direction {
        ListDirection::CandidatesForVacancy => {
            view.candidates_for(&list.subject_id, &request(query))
        }
        ListDirection::VacanciesForCandidate => {
            view.vacancies_for(&list.subject_id, &request(query))
        }
    };
    let recomputed = match recomputed {
        Ok(list) => lists::rows(&list.items),
        Err(QueryError::Match(e)) => {
            answer.reason = format!("not computable at its log position: {e}");
            return Ok(answer);
        }
        Err(e) => return Err(e.into()),
    };
    let rows = list.rows.len().max(recomputed.len());
    for rank in 0..rows {
        let (old, new) = (list.rows.get(rank), recomputed.get(rank));
        let same = match (old, new) {
            // Similarities as recorded: to the step a list keeps them at.
            (Some(o), Some(n)) => {
                o.id == n.id
                    && o.score == n.score
                    && pack_similarities(&o.similarities) == n.packed_similarities
            }
            _ => false,
        };
        if !same && answer.reason.is_empty() {
            answer.reason = format!("rank {} differs", rank + 1);
        }
        answer.rows.push(pb::RowCheck {
            rank: rank as u32 + 1,
            recorded_id: old.map(|r| r.id.clone()).unwrap_or_default(),
            recomputed_id: new.map(|r| r.id.clone()).unwrap_or_default(),
            recorded_score: old.map_or(0.0, |r| r.score),
            recomputed_score: new.map_or(0.0, |r| r.score),
            same,
        });
    }
    answer.reproduced = answer.reason.is_empty();
    Ok(answer)
}
