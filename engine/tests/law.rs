//! The cases of issue 14, each from the text it checks: the decree's distance rule in the first
//! 12 months (DM 10/4/2018), the duration without the periods of suspension (DM art. 3 c.1),
//! apprendistato as an open-ended contract (D.Lgs. 81/2015 art. 41 c.1) and the rules for ADI/SFL
//! recipients (D.L. 48/2023 art. 9), judged through [`CongruityRules::assess`] so that the pack
//! is chosen the way lists choose it.

use std::sync::OnceLock;

use incontra_engine::congruity::{
    suspension_days, CcnlTable, Congruity, CongruityError, CongruityInput, CongruityRules,
    Criterion, RulePacks, Verdict,
};
use incontra_engine::employment::EmploymentRecord;
use incontra_engine::event::{CoAction, CoQuadro, ComunicazioneObbligatoria};
use incontra_engine::model::{
    day_from_ymd, Candidate, CandidateProfile, ContractType, Day, Employer, IncomeSupport, Vacancy,
    VacancySpec, VacancyStatus, WorkExperience,
};

const COOK: &str = "5.2.2.1.0";
const SWITCH: (i32, u32, u32) = (2026, 12, 3);

fn day(y: i32, m: u32, d: u32) -> Day {
    day_from_ymd(y, m, d).expect("valid date")
}

/// A CCNL minimum for the tests only: the embedded table holds no verified minimum yet, and
/// these tests are about the other criteria. "TEST" is not a real CCNL code.
const TEST_MINIMUMS: &str = "ccnl,level,valid_from,valid_until,monthly_minimum_eur,source
TEST,4,2020-01-01,2027-06-01,1500.00,fixture
TEST,4,2027-06-01,,1600.50,fixture
";

/// The embedded packs and SEP table with [`TEST_MINIMUMS`].
fn rules() -> &'static CongruityRules {
    static RULES: OnceLock<CongruityRules> = OnceLock::new();
    RULES.get_or_init(|| CongruityRules {
        ccnl: CcnlTable::from_csv(TEST_MINIMUMS).expect("test minimums"),
        ..CongruityRules::embedded().expect("embedded rules")
    })
}

/// A cook who wants to stay one: coherence, contract, hours and pay are all satisfied by
/// [`offer`], so a failing verdict comes from the criterion a test changes.
fn person(did: Day, support: IncomeSupport) -> Candidate {
    Candidate {
        id: "c1".into(),
        person: "p1".into(),
        did_day: did,
        profile: CandidateProfile {
            domicile_comune: "001272".into(),
            desired_professions: vec![COOK.into()],
            experience: vec![WorkExperience {
                profession_code: COOK.into(),
                months: 24,
                ..WorkExperience::default()
            }],
            income_support: support,
            monthly_benefit_eur: if support == IncomeSupport::None {
                0
            } else {
                900
            },
            ..CandidateProfile::default()
        },
        available: true,
        withdrawn: false,
        registered_at_ms: 0,
        updated_at_ms: 0,
        demographics: None,
        erased: false,
    }
}

fn offer(contract: ContractType, months: u32, hours: u32) -> Vacancy {
    Vacancy {
        id: "v1".into(),
        spec: VacancySpec {
            profession_code: COOK.into(),
            workplace_comune: "001156".into(),
            contract_type: contract,
            contract_months: months,
            hours_percent: hours,
            gross_monthly_pay_eur: 1_800,
            ccnl: "TEST".into(),
            ccnl_level: "4".into(),
            positions: 1,
            ..VacancySpec::default()
        },
        status: VacancyStatus::Open,
        positions_filled: 0,
        filled_by_hires: Vec::new(),
        published_at_ms: 0,
        updated_at_ms: 0,
    }
}

struct Judged<'a> {
    candidate: &'a Candidate,
    vacancy: &'a Vacancy,
    km: f64,
    minutes: Option<f64>,
    employment: Option<&'a EmploymentRecord>,
    today: Day,
}

fn judge(j: &Judged<'_>) -> Congruity {
    judge_by(rules(), j)
}

fn judge_by(rules: &CongruityRules, j: &Judged<'_>) -> Congruity {
    rules
        .assess(&CongruityInput {
            candidate: j.candidate,
            vacancy: j.vacancy,
            distance_km: j.km,
            travel_minutes: j.minutes,
            last_contract_hours_percent: Some(100),
            collocamento_mirato: false,
            employment: j.employment,
            today: j.today,
        })
        .expect("a pack in force")
}

fn verdict(c: &Congruity, criterion: Criterion) -> Verdict {
    c.verdict(criterion).expect("criterion reported").verdict
}

fn reason(c: &Congruity, criterion: Criterion) -> &str {
    &c.verdict(criterion).expect("criterion reported").reason
}

/// Every criterion but `except` is satisfied or not applicable: the verdict under test is the
/// only one that can decide.
fn only_failing(c: &Congruity, except: Criterion) {
    for v in &c.criteria {
        if v.criterion != except {
            assert_ne!(
                v.verdict,
                Verdict::NotSatisfied,
                "{}: {}",
                v.criterion,
                v.reason
            );
        }
    }
}

fn hire(code: &str, start: Day, end: Option<Day>) -> ComunicazioneObbligatoria {
    paid_hire(code, start, end, None)
}

fn paid_hire(
    code: &str,
    start: Day,
    end: Option<Day>,
    annual_pay_eur: Option<u32>,
) -> ComunicazioneObbligatoria {
    ComunicazioneObbligatoria {
        code: code.into(),
        action: CoAction::Original,
        previous_code: String::new(),
        datore: Employer {
            fiscal_code: format!("0123456789{}", code.len()),
            name: "Rossi Srl".into(),
            ..Employer::default()
        },
        workplace_comune: "001272".into(),
        quadro: CoQuadro::Assunzione {
            start_day: start,
            end_day: end,
            contract_code: "A.02.00".into(),
            contract_type: if end.is_some() {
                ContractType::Determinato
            } else {
                ContractType::Indeterminato
            },
            profession_code: COOK.into(),
            ccnl: String::new(),
            hours_percent: 100,
            annual_pay_eur,
        },
    }
}

#[test]
fn eight_months_unemployed_the_declared_70_km_is_not_the_patto_limit() {
    // DM: up to 12 months, 50 km or 80 minutes by public transport. The profile's 70 km is a
    // matching preference; the offer at 60 km and 90 minutes is beyond both limits.
    let today = day(2027, 9, 20);
    let mut candidate = person(day(2027, 1, 15), IncomeSupport::Naspi);
    candidate.profile.max_distance_km = 70;
    let vacancy = offer(ContractType::Indeterminato, 0, 100);
    let judged = Judged {
        candidate: &candidate,
        vacancy: &vacancy,
        km: 60.0,
        minutes: Some(90.0),
        employment: None,
        today,
    };
    let c = judge(&judged);
    assert_eq!(c.pack_id, "dm-2018-04-10-r2");
    assert_eq!(c.unemployment_months, 8);
    assert_eq!(c.band, "da più di 6 fino a 12 mesi");
    assert_eq!(verdict(&c, Criterion::Distance), Verdict::NotSatisfied);
    assert!(!c.congrua);
    only_failing(&c, Criterion::Distance);
    let why = reason(&c, Criterion::Distance);
    assert!(why.contains("limite di 50 km"), "{why}");
    assert!(why.contains("limite di 80 minuti"), "{why}");
    assert!(why.contains("art. 6"), "{why}");

    // The same person and offer within 80 minutes, or within 50 km: congrua.
    let by_train = judge(&Judged {
        minutes: Some(75.0),
        ..judged
    });
    assert!(by_train.congrua, "{:?}", by_train.criteria);
    let near = judge(&Judged {
        km: 45.0,
        minutes: None,
        ..judged
    });
    assert!(near.congrua, "{:?}", near.criteria);

    // Before the switch the superseded pack took the 70 km as the patto's limit: replays of
    // lists issued then keep that verdict.
    let before = judge(&Judged {
        today: day(2026, 9, 20),
        candidate: &Candidate {
            did_day: day(2026, 1, 15),
            ..candidate.clone()
        },
        ..judged
    });
    assert_eq!(before.pack_id, "dm-2018-04-10");
    assert_eq!(verdict(&before, Criterion::Distance), Verdict::Satisfied);
}

#[test]
fn the_patto_distance_narrows_the_decree_limit_and_never_widens_it() {
    let today = day(2027, 5, 20);
    let vacancy = offer(ContractType::Indeterminato, 0, 100);
    let with_patto = |km: Option<u32>| {
        let mut c = person(day(2027, 3, 1), IncomeSupport::None);
        c.profile.patto_max_distance_km = km;
        c
    };
    let at = |candidate: &Candidate, km: f64, minutes: Option<f64>| {
        judge(&Judged {
            candidate,
            vacancy: &vacancy,
            km,
            minutes,
            employment: None,
            today,
        })
    };
    let narrow = with_patto(Some(30));
    let c = at(&narrow, 40.0, Some(30.0));
    assert_eq!(verdict(&c, Criterion::Distance), Verdict::NotSatisfied);
    assert!(
        reason(&c, Criterion::Distance).contains("30 km concordato nel patto"),
        "{}",
        reason(&c, Criterion::Distance)
    );
    assert_eq!(
        verdict(&at(&narrow, 25.0, None), Criterion::Distance),
        Verdict::Satisfied
    );
    let wide = with_patto(Some(100));
    assert_eq!(
        verdict(&at(&wide, 60.0, None), Criterion::Distance),
        Verdict::NotSatisfied
    );
    assert_eq!(
        verdict(&at(&with_patto(None), 60.0, None), Criterion::Distance),
        Verdict::NotSatisfied
    );
}

#[test]
fn a_suspension_of_four_months_in_fourteen_is_judged_in_the_6_12_band() {
    let did = day(2027, 1, 10);
    let today = day(2028, 3, 10); // 14 months after the DID
    let mut record = EmploymentRecord::default();
    // A fixed-term job of four months, 01/05/2027 - 31/08/2027 (123 days worked).
    record
        .record(hire("C1", day(2027, 5, 1), Some(day(2027, 8, 31))))
        .expect("hire recorded");
    let candidate = person(did, IncomeSupport::Naspi);
    let vacancy = offer(ContractType::Indeterminato, 0, 100);
    let judged = Judged {
        candidate: &candidate,
        vacancy: &vacancy,
        km: 10.0,
        minutes: None,
        employment: Some(&record),
        today,
    };
    let c = judge(&judged);
    assert_eq!(c.suspended_days, 123);
    assert_eq!(c.unemployment_months, 9);
    assert_eq!(c.band, "da più di 6 fino a 12 mesi");
    assert!(
        reason(&c, Criterion::Distance).contains("esclusi 123 giorni di sospensione"),
        "{}",
        reason(&c, Criterion::Distance)
    );
    // Without the notices the same person is in the last band.
    let unknown = judge(&Judged {
        employment: None,
        ..judged
    });
    assert_eq!(unknown.suspended_days, 0);
    assert_eq!(unknown.unemployment_months, 14);
    assert_eq!(unknown.band, "oltre 12 mesi");
}

#[test]
fn suspension_days_count_each_worked_day_once_within_did_and_today() {
    let did = day(2027, 1, 1);
    let today = day(2027, 12, 1);
    let mut r = EmploymentRecord::default();
    // Before the DID until 10/01: only 01/01-10/01 counts (10 days).
    r.record(hire("A1", day(2026, 11, 1), Some(day(2027, 1, 10))))
        .unwrap();
    // Two overlapping jobs with different employers, 01/03-31/03 and 15/03-15/04: 46 days.
    r.record(hire("B22", day(2027, 3, 1), Some(day(2027, 3, 31))))
        .unwrap();
    r.record(hire("C333", day(2027, 3, 15), Some(day(2027, 4, 15))))
        .unwrap();
    // An open-ended job from 21/11: counts up to the day before today (10 days).
    r.record(hire("D4444", day(2027, 11, 21), None)).unwrap();
    // A job starting later does not count.
    r.record(hire("E55555", day(2028, 1, 1), Some(day(2028, 2, 1))))
        .unwrap();
    assert_eq!(suspension_days(Some(&r), did, today, None), 10 + 46 + 10);
    assert_eq!(suspension_days(None, did, today, None), 0);
    // A cessazione ends the period on its day: the open-ended job then counts 21/11-25/11.
    r.record(ComunicazioneObbligatoria {
        quadro: CoQuadro::Cessazione {
            day: day(2027, 11, 25),
            cause: "dimissioni".into(),
        },
        // Same employer as D4444 (the test employers are told apart by the code's length).
        ..hire("D444X", 0, None)
    })
    .expect("cessazione recorded");
    assert_eq!(suspension_days(Some(&r), did, today, None), 10 + 46 + 5);
}

#[test]
fn an_apprendistato_of_36_months_satisfies_the_contract_criterion() {
    let candidate = person(day(2027, 1, 15), IncomeSupport::Naspi);
    let vacancy = offer(ContractType::Apprendistato, 36, 100);
    let judged = Judged {
        candidate: &candidate,
        vacancy: &vacancy,
        km: 10.0,
        minutes: None,
        employment: None,
        today: day(2027, 3, 1),
    };
    let c = judge(&judged);
    assert_eq!(verdict(&c, Criterion::Contract), Verdict::Satisfied);
    assert!(
        reason(&c, Criterion::Contract).contains("art. 41"),
        "{}",
        reason(&c, Criterion::Contract)
    );
    assert!(c.congrua, "{:?}", c.criteria);
    // The superseded pack refused it.
    let before = judge(&Judged {
        today: day(2026, 3, 1),
        candidate: &Candidate {
            did_day: day(2026, 1, 15),
            ..candidate.clone()
        },
        ..judged
    });
    assert_eq!(verdict(&before, Criterion::Contract), Verdict::NotSatisfied);
}

#[test]
fn an_adi_recipient_and_an_open_ended_offer_at_120_km_is_congrua_under_art_9() {
    let today = day(2027, 3, 1);
    let mut candidate = person(day(2025, 1, 15), IncomeSupport::Adi);
    candidate.profile.children_under_14 = Some(false);
    let open_ended = offer(ContractType::Indeterminato, 0, 100);
    let judged = Judged {
        candidate: &candidate,
        vacancy: &open_ended,
        km: 120.0,
        minutes: None,
        employment: None,
        today,
    };
    let c = judge(&judged);
    assert_eq!(c.pack_id, "dl-48-2023-art9");
    assert!(c.congrua, "{:?}", c.criteria);
    assert_eq!(verdict(&c, Criterion::Distance), Verdict::Satisfied);
    assert_eq!(verdict(&c, Criterion::Experience), Verdict::NotApplicable);
    // Lett. c): the CCNL minimum is checked; there is no comparison with the benefit.
    assert_eq!(verdict(&c, Criterion::Pay), Verdict::Satisfied);
    assert!(
        reason(&c, Criterion::Pay).contains("lett. c)"),
        "{}",
        reason(&c, Criterion::Pay)
    );
    assert!(
        reason(&c, Criterion::Distance).contains("art. 9"),
        "{}",
        reason(&c, Criterion::Distance)
    );

    // SFL recipients are judged by the same article.
    let mut sfl = candidate.clone();
    sfl.profile.income_support = IncomeSupport::Sfl;
    let s = judge(&Judged {
        candidate: &sfl,
        ..judged
    });
    assert_eq!(s.pack_id, "dl-48-2023-art9");
    assert!(s.congrua);

    // A NASpI recipient with the same offer is judged by the DM: beyond 80 km.
    let mut naspi = candidate.clone();
    naspi.profile.income_support = IncomeSupport::Naspi;
    let n = judge(&Judged {
        candidate: &naspi,
        ..judged
    });
    assert_eq!(n.pack_id, "dm-2018-04-10-r2");
    assert!(!n.congrua);
}

#[test]
fn art_9_limits_fixed_term_offers_children_under_14_and_part_time() {
    let today = day(2027, 3, 1);
    let adi = |children: Option<bool>| {
        let mut c = person(day(2025, 1, 15), IncomeSupport::Adi);
        c.profile.children_under_14 = children;
        c
    };
    let at = |candidate: &Candidate, vacancy: &Vacancy, km: f64, minutes: Option<f64>| {
        judge(&Judged {
            candidate,
            vacancy,
            km,
            minutes,
            employment: None,
            today,
        })
    };
    let open_ended = offer(ContractType::Indeterminato, 0, 100);
    let fixed = offer(ContractType::Determinato, 6, 100);
    let none = adi(Some(false));

    // Lett. d): fixed-term within 80 km or 120 minutes.
    let far = at(&none, &fixed, 120.0, Some(150.0));
    assert_eq!(verdict(&far, Criterion::Distance), Verdict::NotSatisfied);
    only_failing(&far, Criterion::Distance);
    assert!(at(&none, &fixed, 120.0, Some(110.0)).congrua);
    assert!(at(&none, &fixed, 75.0, None).congrua);

    // C.1-bis: children under 14 bring the limit back on open-ended offers; unknown cannot
    // rule them out.
    let with_children = at(&adi(Some(true)), &open_ended, 120.0, None);
    assert_eq!(
        verdict(&with_children, Criterion::Distance),
        Verdict::NotSatisfied
    );
    assert!(at(&adi(Some(true)), &open_ended, 70.0, None).congrua);
    let unknown = at(&adi(None), &open_ended, 120.0, None);
    assert_eq!(
        verdict(&unknown, Criterion::Distance),
        Verdict::NotSatisfied
    );
    assert!(
        reason(&unknown, Criterion::Distance).contains("non noto"),
        "{}",
        reason(&unknown, Criterion::Distance)
    );
    assert!(at(&adi(None), &open_ended, 70.0, None).congrua);

    // Lett. b): part-time of at least 60% of full time, whatever the last contract was.
    let sixty = at(
        &none,
        &offer(ContractType::Indeterminato, 0, 60),
        10.0,
        None,
    );
    assert!(sixty.congrua, "{:?}", sixty.criteria);
    let fifty = at(
        &none,
        &offer(ContractType::Indeterminato, 0, 50),
        10.0,
        None,
    );
    assert_eq!(verdict(&fifty, Criterion::Hours), Verdict::NotSatisfied);
    only_failing(&fifty, Criterion::Hours);

    // A fixed-term offer without a duration is not assumed long enough.
    let no_months = at(&none, &offer(ContractType::Determinato, 0, 100), 10.0, None);
    assert_eq!(
        verdict(&no_months, Criterion::Contract),
        Verdict::NotSatisfied
    );
}

#[test]
fn the_benefit_on_the_day_chooses_the_pack() {
    let packs = &rules().packs;
    let switch = day(SWITCH.0, SWITCH.1, SWITCH.2);
    let id = |day, support| packs.for_recipient(day, support).map(|p| p.id.as_str());
    assert_eq!(id(switch - 1, IncomeSupport::Adi), Some("dm-2018-04-10"));
    assert_eq!(id(switch, IncomeSupport::Adi), Some("dl-48-2023-art9"));
    assert_eq!(id(switch, IncomeSupport::Sfl), Some("dl-48-2023-art9"));
    assert_eq!(id(switch, IncomeSupport::Naspi), Some("dm-2018-04-10-r2"));
    assert_eq!(id(switch, IncomeSupport::None), Some("dm-2018-04-10-r2"));
    assert_eq!(id(day(2018, 7, 13), IncomeSupport::Adi), None);
    // The general pack is never the benefit-specific one.
    assert_eq!(
        packs.in_force(switch).map(|p| p.id.as_str()),
        Some("dm-2018-04-10-r2")
    );
}

fn pack(id: &str, from: &str, recipients: &str) -> String {
    format!(
        r#"
id = "{id}"
title = "test"
valid_from = {from}
recipients = {recipients}

[citations]
duration = "d"
experience = "e"
distance = "x"
contract = "c"
hours = "h"
pay = "p"
disability = "x"

[[bands]]
label = "tutti"
experience = {{ rule = "not_required" }}
distance = {{ rule = "open_ended_unlimited", max_km = 80, max_minutes = 120 }}

[contract]
open_ended = ["Indeterminato"]
fixed_term = ["Determinato"]
min_months = 1

[hours]
min_percent_of_full_time = 60
"#
    )
}

#[test]
fn packs_for_the_same_people_may_not_overlap() {
    let general = pack("g", "2020-01-01", "[]");
    let adi = pack("a", "2020-01-01", r#"["Adi"]"#);
    assert!(RulePacks::from_toml(&[&general, &adi]).is_ok());
    let adi_sfl = pack("b", "2021-01-01", r#"["Sfl", "Adi"]"#);
    assert!(matches!(
        RulePacks::from_toml(&[&adi, &adi_sfl]),
        Err(CongruityError::Overlap { .. })
    ));
    let sfl = pack("s", "2021-01-01", r#"["Sfl"]"#);
    assert!(RulePacks::from_toml(&[&adi, &sfl]).is_ok());
    let none = pack("n", "2021-01-01", r#"["None"]"#);
    assert!(matches!(
        RulePacks::from_toml(&[&none]),
        Err(CongruityError::InvalidPack { .. })
    ));
    let both_hours = pack("h", "2021-01-01", "[]").replace(
        "min_percent_of_full_time = 60",
        "min_percent_of_full_time = 60\nmin_percent_of_last_contract = 80",
    );
    assert!(matches!(
        RulePacks::from_toml(&[&both_hours]),
        Err(CongruityError::InvalidPack { .. })
    ));
}

#[test]
fn pay_below_the_ccnl_minimum_is_not_congrua_and_an_unknown_minimum_is_not_assessable() {
    let today = day(2027, 3, 1);
    let candidate = person(day(2027, 1, 15), IncomeSupport::None);
    let at = |vacancy: &Vacancy, today: Day| {
        judge(&Judged {
            candidate: &candidate,
            vacancy,
            km: 10.0,
            minutes: None,
            employment: None,
            today,
        })
    };
    let mut low = offer(ContractType::Indeterminato, 0, 100);
    low.spec.gross_monthly_pay_eur = 1_499;
    let c = at(&low, today);
    assert_eq!(verdict(&c, Criterion::Pay), Verdict::NotSatisfied);
    only_failing(&c, Criterion::Pay);
    assert!(
        reason(&c, Criterion::Pay).contains("inferiore al minimo del CCNL TEST livello 4"),
        "{}",
        reason(&c, Criterion::Pay)
    );
    // At the minimum: satisfied; the minimum of the day judged applies (1600.50 from June).
    let mut at_minimum = low.clone();
    at_minimum.spec.gross_monthly_pay_eur = 1_500;
    assert!(at(&at_minimum, today).congrua);
    let later = at(&at_minimum, day(2027, 6, 1));
    assert_eq!(verdict(&later, Criterion::Pay), Verdict::NotSatisfied);
    // Part-time: the minimum pro rata of the hours (50% of 1500 = 750).
    let mut half = offer(ContractType::Indeterminato, 0, 50);
    half.spec.gross_monthly_pay_eur = 750;
    let h = judge(&Judged {
        candidate: &candidate,
        vacancy: &half,
        km: 10.0,
        minutes: None,
        employment: None,
        today,
    });
    assert_eq!(
        verdict(&h, Criterion::Pay),
        Verdict::Satisfied,
        "{:?}",
        h.criteria
    );
    half.spec.gross_monthly_pay_eur = 749;
    let h = judge(&Judged {
        candidate: &candidate,
        vacancy: &half,
        km: 10.0,
        minutes: None,
        employment: None,
        today,
    });
    assert_eq!(verdict(&h, Criterion::Pay), Verdict::NotSatisfied);

    // No CCNL named, or one the table does not hold: not assessable, never congrua.
    let mut unnamed = offer(ContractType::Indeterminato, 0, 100);
    unnamed.spec.ccnl.clear();
    let u = at(&unnamed, today);
    assert_eq!(verdict(&u, Criterion::Pay), Verdict::NotSatisfied);
    assert!(reason(&u, Criterion::Pay).contains("non è valutabile"));
    let mut other = offer(ContractType::Indeterminato, 0, 100);
    other.spec.ccnl = "ALTRO".into();
    let o = at(&other, today);
    assert_eq!(verdict(&o, Criterion::Pay), Verdict::NotSatisfied);
    assert!(reason(&o, Criterion::Pay).contains("non valutabile"));
}

#[test]
fn with_the_embedded_table_an_offer_is_never_congrua_by_default() {
    // The shipped table holds no verified minimum: the new packs cannot call any offer congrua,
    // while the superseded pack (which had no such check) is unchanged for replays.
    let embedded = CongruityRules::embedded().expect("embedded rules");
    assert!(embedded.ccnl.is_empty());
    let candidate = person(day(2027, 1, 15), IncomeSupport::None);
    let vacancy = offer(ContractType::Indeterminato, 0, 100);
    let judged = Judged {
        candidate: &candidate,
        vacancy: &vacancy,
        km: 10.0,
        minutes: None,
        employment: None,
        today: day(2027, 3, 1),
    };
    let c = judge_by(&embedded, &judged);
    assert!(!c.congrua);
    only_failing(&c, Criterion::Pay);
    let before = judge_by(
        &embedded,
        &Judged {
            today: day(2026, 3, 1),
            candidate: &Candidate {
                did_day: day(2026, 1, 15),
                ..candidate.clone()
            },
            ..judged
        },
    );
    assert_eq!(before.pack_id, "dm-2018-04-10");
    assert!(before.congrua, "{:?}", before.criteria);
}

#[test]
fn a_malformed_minimum_table_is_a_typed_error() {
    let header = "ccnl,level,valid_from,valid_until,monthly_minimum_eur,source\n";
    for row in [
        "X,1,2020-01-01,,1.500,00,s\n",
        "X,1,2020-01-01,,-5,s\n",
        "X,1,,,1500,s\n",
        "X,1,2020-01-01,2019-01-01,1500,s\n",
        "X,1,2020-01-01,,1500,\n",
        "X,1,2020-01-01,,1500,s\nX,1,2021-01-01,,1600,s\n",
    ] {
        assert!(
            CcnlTable::from_csv(&format!("{header}{row}")).is_err(),
            "{row}"
        );
    }
    let ok = CcnlTable::from_csv(&format!(
        "{header}X,1,2020-01-01,2021-01-01,1500.5,s\nX,1,2021-01-01,,1600,s\n"
    ))
    .expect("valid table");
    assert_eq!(ok.len(), 2);
    let first = ok.minimum("X", "1", day(2020, 6, 1)).expect("first period");
    assert_eq!(first.monthly_minimum_cents, 150_050);
    assert!(ok.minimum("X", "1", day(2019, 12, 31)).is_none());
    assert!(ok.minimum("X", "2", day(2020, 6, 1)).is_none());
}

#[test]
fn a_job_within_the_income_threshold_keeps_the_status_so_the_duration_runs() {
    // The same four months as the suspension test, 14 months after the DID: paid within the
    // threshold the job keeps the status (D.L. 4/2019 art. 4 c.15-quater) and is not left out;
    // paid above it, or with no pay stated, it is a suspension.
    let did = day(2027, 1, 10);
    let today = day(2028, 3, 10);
    let candidate = person(did, IncomeSupport::Naspi);
    let vacancy = offer(ContractType::Indeterminato, 0, 100);
    let band = |pay: Option<u32>| {
        let mut record = EmploymentRecord::default();
        record
            .record(paid_hire(
                "C1",
                day(2027, 5, 1),
                Some(day(2027, 8, 31)),
                pay,
            ))
            .expect("hire recorded");
        let c = judge(&Judged {
            candidate: &candidate,
            vacancy: &vacancy,
            km: 10.0,
            minutes: None,
            employment: Some(&record),
            today,
        });
        (c.band, c.suspended_days)
    };
    assert_eq!(band(Some(6_000)), ("oltre 12 mesi".to_string(), 0));
    assert_eq!(
        band(Some(30_000)),
        ("da più di 6 fino a 12 mesi".to_string(), 123)
    );
    assert_eq!(band(None), ("da più di 6 fino a 12 mesi".to_string(), 123));
}

/// `Explain`'s availability verdict says the legal unemployment status beside the practical
/// availability a list judges (D.Lgs. 150/2015 art. 19; D.L. 4/2019 art. 4 c.15-quater): kept
/// with no job, suspended by a job paying above the threshold, and nothing of it without rules.
#[test]
fn explain_gives_the_legal_unemployment_status_with_its_article() {
    use incontra_engine::config::ScoringConfig;
    use incontra_engine::reference::ReferenceData;
    use incontra_engine::scoring::{CandidateFacts, Context, HardFilter};

    let reference = ReferenceData::embedded().expect("reference data");
    let config = ScoringConfig::embedded_default().expect("scoring config");
    let today = day(2027, 6, 1);
    let candidate = person(day(2027, 1, 10), IncomeSupport::None);
    let vacancy = offer(ContractType::Indeterminato, 0, 100);
    let availability = |congruity: Option<&CongruityRules>, record: Option<&EmploymentRecord>| {
        let ctx = Context {
            reference: &reference,
            config: &config,
            today,
            congruity,
        };
        let facts = CandidateFacts {
            employment: record,
            protected: Default::default(),
        };
        ctx.evaluate(&vacancy, &candidate, facts, 0.0)
            .filters
            .into_iter()
            .find(|f| f.filter == HardFilter::Availability)
            .expect("availability judged")
    };

    let free = availability(Some(rules()), None);
    assert!(free.passed);
    assert!(free.reason.starts_with("Disponibile"), "{}", free.reason);
    assert!(
        free.reason.contains("Stato di disoccupazione conservato")
            && free.reason.contains("art. 19"),
        "{}",
        free.reason
    );

    let mut record = EmploymentRecord::default();
    record
        .record(paid_hire("C1", day(2027, 5, 2), None, Some(12_000)))
        .expect("hire recorded");
    let employed = availability(Some(rules()), Some(&record));
    assert!(
        !employed.passed,
        "a full-time open-ended job leaves no room"
    );
    assert!(
        employed
            .reason
            .contains("Stato di disoccupazione sospeso fino al 28/10/2027"),
        "{}",
        employed.reason
    );

    let without_rules = availability(None, None);
    assert!(!without_rules.reason.contains("Stato di disoccupazione"));
}
