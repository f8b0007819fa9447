//! The explanation contract every returned list must keep (ARCHITECTURE.md,
//! "Every score comes with its explanation"): each match carries exactly one
//! contribution per scoring criterion ([`Criterion::ALL`]), any other
//! contribution is a target-group boost given at most once, every
//! contribution has a non-empty reason, and the contributions add up to the
//! score.

use incontra_engine::matching::RankedList;
use incontra_engine::scoring::Criterion;

/// Tolerance on the sum of contributions against the score.
const SUM_TOLERANCE: f64 = 1e-9;

/// Every breach of the contract in `list` (empty when it holds), each
/// naming the vacancy and candidate.
pub fn check_list(vacancy_id: &str, list: &RankedList) -> Vec<String> {
    let mut problems = Vec::new();
    for item in &list.items {
        let at = format!("vacancy {vacancy_id}, candidate {}", item.id);
        for criterion in Criterion::ALL {
            let n = item
                .contributions
                .iter()
                .filter(|c| c.criterion == criterion)
                .count();
            if n != 1 {
                problems.push(format!(
                    "{at}: {n} contributions for criterion {}",
                    criterion.name()
                ));
            }
        }
        for (i, c) in item.contributions.iter().enumerate() {
            if Criterion::ALL.contains(&c.criterion) {
                continue;
            }
            if !c.criterion.is_boost() {
                problems.push(format!(
                    "{at}: contribution {} is neither a criterion nor a boost",
                    c.criterion.name()
                ));
            } else if item.contributions[..i]
                .iter()
                .any(|d| d.criterion == c.criterion)
            {
                problems.push(format!("{at}: boost {} given twice", c.criterion.name()));
            }
        }
        for c in &item.contributions {
            if c.reason.trim().is_empty() {
                problems.push(format!(
                    "{at}: empty reason for criterion {}",
                    c.criterion.name()
                ));
            }
        }
        let sum: f64 = item.contributions.iter().map(|c| c.contribution).sum();
        if (sum - item.score).abs() > SUM_TOLERANCE {
            problems.push(format!(
                "{at}: contributions add up to {sum}, score is {}",
                item.score
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use incontra_engine::matching::Ranked;
    use incontra_engine::scoring::Contribution;

    fn item() -> Ranked {
        let contributions: Vec<Contribution> = Criterion::ALL
            .iter()
            .map(|&criterion| Contribution {
                criterion,
                similarity: 0.5,
                weight: 1.0,
                contribution: 0.5 / 8.0,
                reason: "motivo".into(),
            })
            .collect();
        Ranked {
            id: "C1".into(),
            score: 0.5,
            distance_km: 3.0,
            contributions,
            congruity: None,
        }
    }

    fn list(item: Ranked) -> RankedList {
        RankedList {
            items: vec![item],
            ..RankedList::default()
        }
    }

    #[test]
    fn a_complete_explanation_passes() {
        assert!(check_list("V1", &list(item())).is_empty());
    }

    #[test]
    fn missing_criteria_empty_reasons_and_wrong_sums_are_caught() {
        let mut missing = item();
        missing.contributions.pop();
        missing.score -= 0.5 / 8.0;
        assert!(!check_list("V1", &list(missing)).is_empty());

        let mut empty = item();
        empty.contributions[2].reason = "  ".into();
        assert_eq!(check_list("V1", &list(empty)).len(), 1);

        let mut duplicated = item();
        duplicated.contributions[1].criterion = Criterion::Profession;
        assert!(!check_list("V1", &list(duplicated)).is_empty());

        let mut wrong = item();
        wrong.score = 0.9;
        assert_eq!(check_list("V1", &list(wrong)).len(), 1);
    }

    fn boost(criterion: Criterion, reason: &str) -> Contribution {
        Contribution {
            criterion,
            similarity: 1.0,
            weight: 0.02,
            contribution: 0.02,
            reason: reason.into(),
        }
    }

    #[test]
    fn boosts_are_allowed_once_each_with_a_reason() {
        let mut boosted = item();
        boosted
            .contributions
            .push(boost(Criterion::BoostVulnerable, "Priorità"));
        boosted.score += 0.02;
        assert!(check_list("V1", &list(boosted.clone())).is_empty());

        let mut twice = boosted.clone();
        twice
            .contributions
            .push(boost(Criterion::BoostVulnerable, "Priorità"));
        twice.score += 0.02;
        assert_eq!(check_list("V1", &list(twice)).len(), 1);

        let mut silent = boosted;
        silent
            .contributions
            .push(boost(Criterion::BoostLongTermUnemployed, ""));
        silent.score += 0.02;
        assert_eq!(check_list("V1", &list(silent)).len(), 1);
    }
}
