//! Engine results to protobuf responses. Nothing here decides anything:
//! it only renames.

use incontra_engine::congruity::{self, Congruity};
use incontra_engine::matching::{filter_order, RankedList};
use incontra_engine::model::PersonalData;
use incontra_engine::outcomes;
use incontra_engine::scoring::{Contribution, FilterVerdict};
use incontra_proto::matching::v1 as pb;

pub fn contribution(c: &Contribution) -> pb::Contribution {
    pb::Contribution {
        criterion: c.criterion.name().to_owned(),
        contribution: c.contribution,
        reason: c.reason.clone(),
        similarity: c.similarity,
        weight: c.weight,
    }
}

pub fn verdict(f: &FilterVerdict) -> pb::FilterVerdict {
    pb::FilterVerdict {
        filter: f.filter.name().to_owned(),
        passed: f.passed,
        reason: f.reason.clone(),
    }
}

pub fn excluded(list: &RankedList) -> Vec<pb::FilterCount> {
    let mut out: Vec<pb::FilterCount> = list
        .excluded
        .iter()
        .map(|(name, count)| pb::FilterCount {
            filter: (*name).to_owned(),
            count: *count,
        })
        .collect();
    out.sort_by_key(|f| filter_order(&f.filter));
    out
}

pub fn personal(candidate_id: &str, p: &PersonalData) -> pb::CandidatePersonalData {
    pb::CandidatePersonalData {
        candidate_id: candidate_id.to_owned(),
        codice_fiscale: p.codice_fiscale.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
    }
}

pub fn congruity(c: &Congruity) -> pb::Congruity {
    pb::Congruity {
        congrua: c.congrua,
        rule_pack: c.pack_id.clone(),
        unemployment_months: c.unemployment_months,
        band: c.band.clone(),
        criteria: c
            .criteria
            .iter()
            .map(|v| pb::CongruityCriterion {
                criterion: match v.criterion {
                    congruity::Criterion::Experience => "experience",
                    congruity::Criterion::Distance => "distance",
                    congruity::Criterion::Contract => "contract",
                    congruity::Criterion::Hours => "hours",
                    congruity::Criterion::Pay => "pay",
                    congruity::Criterion::Disability => "disability",
                }
                .to_owned(),
                verdict: match v.verdict {
                    congruity::Verdict::Satisfied => "satisfied",
                    congruity::Verdict::NotSatisfied => "not_satisfied",
                    congruity::Verdict::NotApplicable => "not_applicable",
                }
                .to_owned(),
                reason: v.reason.clone(),
            })
            .collect(),
    }
}

fn figures(f: &outcomes::Figures) -> pb::OutcomeFigures {
    pb::OutcomeFigures {
        lists: f.lists,
        listed: f.listed,
        attributed_hires: f.attributed_hires,
        lists_with_hire: f.lists_with_hire,
        match_to_hire: f.match_to_hire,
        median_days_to_hire: f.median_days_to_hire,
        mean_days_to_hire: f.mean_days_to_hire,
        hires: f.hires,
        intermediation_rate: f.intermediation_rate,
    }
}

fn groups(groups: &[(String, outcomes::Figures)]) -> Vec<pb::OutcomeGroup> {
    groups
        .iter()
        .map(|(key, f)| pb::OutcomeGroup {
            key: key.clone(),
            figures: Some(figures(f)),
        })
        .collect()
}

pub fn outcomes(r: &outcomes::OutcomeReport) -> pb::GetOutcomesResponse {
    pb::GetOutcomesResponse {
        from_day: r.from_day,
        to_day: r.to_day,
        window_days: r.window_days,
        overall: Some(figures(&r.overall)),
        by_cpi: groups(&r.by_cpi),
        by_target_group: groups(&r.by_target_group),
        by_channel: groups(&r.by_channel),
    }
}
