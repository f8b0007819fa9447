//! CI guard on learning from hires: weights fitted to the hires of the
//! vacancies published first must rank the vacancies published later at
//! least as well as the hand-set weights, and the lists they produce must
//! keep their explanations (`docs/EVALUATION.md`, "Learning weights from
//! hires").
//!
//! The dense CI world has few vacancies (34 with hires train, 23 test), so
//! two things differ from the published demo run. λ is fixed at
//! [`DEFAULT_L2`]: chosen automatically, every λ ties on the nine validation
//! vacancies, the largest wins and the weights barely leave the hand-set
//! ones, which would make the comparison empty. And the assertion is "not
//! worse", not "better": at this scale the learned weights tie on recall@50
//! (0.506 both, 23 vacancies, 51 hires; measured when the test was
//! written), and on the demo world the lift is within noise too
//! (`docs/EVALUATION.md`). The guard catches a fit or a weights path that
//! makes lists worse, or loses their explanations.

use incontra_engine::learning::{weights_to_array, WeightsFile, DEFAULT_L2};
use incontra_evaluation::timesplit::{time_split, TimeSplitConfig};
use incontra_evaluation::EvalConfig;

#[test]
fn learned_weights_do_not_rank_the_held_out_period_worse_than_hand_set_ones() {
    let config = TimeSplitConfig {
        l2: Some(DEFAULT_L2),
        ..TimeSplitConfig::new(EvalConfig::dense_ci())
    };
    let split = time_split(&config).expect("the dense CI world splits and fits");
    println!("{}", split.to_markdown());
    println!(
        "built in {:.1} s, trained and evaluated in {:.1} s",
        split.build_time.as_secs_f64(),
        split.evaluation_time.as_secs_f64()
    );

    // A split by time, with something on both sides.
    assert!(split.training.to < split.held_out.from);
    assert!(split.training.with_hires >= 20 && split.held_out.with_hires >= 15);
    let report = &split.learned.report;
    assert!(report.converged, "{report:?}");
    assert!(report.pairs > 0 && report.lists_used >= 20, "{report:?}");

    // The comparison is not between two equal vectors.
    let hand = weights_to_array(&split.hand_weights);
    let learned = weights_to_array(&split.learned.weights);
    let moved: f64 = hand.iter().zip(learned).map(|(h, l)| (h - l).abs()).sum();
    assert!(moved > 0.05, "learned weights {learned:?} barely moved");
    assert!(learned.iter().all(|w| *w >= 0.0));
    assert!((learned.iter().sum::<f64>() - 1.0).abs() < 1e-3);

    assert_eq!(split.hand.vacancies, split.learned_metrics.vacancies);
    assert!(
        split.learned_metrics.recall_at_50 >= split.hand.recall_at_50,
        "held-out recall@50: learned {:.3} < hand-set {:.3}",
        split.learned_metrics.recall_at_50,
        split.hand.recall_at_50
    );

    assert!(split.lists_checked > 0);
    assert_eq!(
        split.explanation_problems, 0,
        "first problems: {:#?}",
        split.problem_samples
    );

    // What the harness writes, a server can load.
    let file = split
        .weights_file("ci-test-v1", None)
        .expect("a valid weights file");
    let back = WeightsFile::from_toml(&file.to_toml().expect("serialises")).expect("parses");
    assert_eq!(back.weights(), &split.learned.weights);
}

/// Where employers value nearness more than the hand-set weights assume
/// (`Preferences::NearHires`), the weights learned from the earlier hires
/// rank the later vacancies' hires higher: learning finds what the hand-set
/// guess missed. On the demo world the same run gives recall@10 0.476 to
/// 0.515 and NDCG@10 0.328 to 0.369 (`docs/EVALUATION.md`).
#[test]
fn learned_weights_beat_hand_set_ones_where_employers_prefer_near_hires() {
    use incontra_evaluation::market::Preferences;
    let mut eval = EvalConfig::dense_ci();
    eval.market = eval.market.with_preferences(Preferences::NearHires);
    let config = TimeSplitConfig {
        l2: Some(DEFAULT_L2),
        ..TimeSplitConfig::new(eval)
    };
    let split = time_split(&config).expect("the dense CI world splits and fits");
    println!("{}", split.to_markdown());
    let hand = weights_to_array(&split.hand_weights);
    let learned = weights_to_array(&split.learned.weights);
    // Distance is the fourth criterion.
    assert!(learned[3] > hand[3], "distance weight {learned:?}");
    let (h, l) = (&split.hand, &split.learned_metrics);
    assert!(
        l.ndcg_at_10 > h.ndcg_at_10 && l.recall_at_50 >= h.recall_at_50,
        "held out: learned {l:?}, hand-set {h:?}"
    );
    assert_eq!(split.explanation_problems, 0);
}
