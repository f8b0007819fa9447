//! The legal unemployment status (D.Lgs. 150/2015 art. 19; D.L. 4/2019 art. 4 c.15-quater; ANPAL
//! circ. 1/2019) from the jobs the comunicazioni obbligatorie describe, on the thresholds of
//! `config/unemployment/thresholds.toml`.

use incontra_engine::employment::EmploymentRecord;
use incontra_engine::event::{CoAction, CoQuadro, ComunicazioneObbligatoria};
use incontra_engine::model::{day_from_ymd, ContractType, Day, Employer};
use incontra_engine::unemployment::{status, Thresholds, UnemploymentStatus};

fn day(y: i32, m: u32, d: u32) -> Day {
    day_from_ymd(y, m, d).expect("valid date")
}

fn thresholds() -> Thresholds {
    Thresholds::embedded().expect("embedded thresholds")
}

/// A hire with its stated yearly pay; distinct codes are distinct employers.
fn job(
    code: &str,
    kind: ContractType,
    start: Day,
    end: Option<Day>,
    hours: u32,
    pay: Option<u32>,
) -> ComunicazioneObbligatoria {
    ComunicazioneObbligatoria {
        code: code.into(),
        action: CoAction::Original,
        previous_code: String::new(),
        datore: Employer {
            fiscal_code: format!("{:0>11}", code.len()),
            name: "Rossi Srl".into(),
            ..Employer::default()
        },
        workplace_comune: "001272".into(),
        quadro: CoQuadro::Assunzione {
            start_day: start,
            end_day: end,
            contract_code: "A.01.00".into(),
            contract_type: kind,
            profession_code: "5.2.2.1.0".into(),
            ccnl: String::new(),
            hours_percent: hours,
            annual_pay_eur: pay,
        },
    }
}

fn record(notices: Vec<ComunicazioneObbligatoria>) -> EmploymentRecord {
    let mut r = EmploymentRecord::default();
    for n in notices {
        r.record(n).expect("notice recorded");
    }
    r
}

#[test]
fn a_part_time_job_above_the_threshold_suspends_then_after_180_days_ends_the_status() {
    let did = day(2027, 1, 10);
    let start = day(2027, 2, 1);
    // 10,000 EUR a year at 50%: 9,081 EUR net of the employee's 9.19%, above 8,500 (2024-).
    let r = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        start,
        None,
        50,
        Some(10_000),
    )]);
    let t = thresholds();
    assert_eq!(
        status(Some(&r), did, start - 1, &t),
        UnemploymentStatus::Kept
    );
    let during = status(Some(&r), did, day(2027, 3, 1), &t);
    assert_eq!(
        during,
        UnemploymentStatus::Suspended {
            until: start + 179,
            hire_code: "C1".into()
        }
    );
    assert!(
        during.reason().contains("sospeso fino al"),
        "{}",
        during.reason()
    );
    assert!(during.reason().contains("art. 19"), "{}", during.reason());
    assert!(matches!(
        status(Some(&r), did, start + 179, &t),
        UnemploymentStatus::Suspended { .. }
    ));
    let after = status(Some(&r), did, start + 180, &t);
    assert_eq!(
        after,
        UnemploymentStatus::Lost {
            since: start + 180,
            hire_code: "C1".into()
        }
    );
    assert!(after.reason().contains("perso dal"), "{}", after.reason());
}

#[test]
fn pay_within_the_threshold_keeps_the_status_whatever_the_hours() {
    let did = day(2027, 1, 10);
    let start = day(2027, 2, 1);
    let t = thresholds();
    // Full time, open-ended, 8,000 EUR a year: within the threshold, hours play no part.
    let full_time = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        start,
        None,
        100,
        Some(8_000),
    )]);
    assert_eq!(
        status(Some(&full_time), did, start + 400, &t),
        UnemploymentStatus::Kept
    );
    // The threshold applies net of the employee's contributions: 9,000 EUR gross is 8,172.90
    // net, within 8,500; 9,400 EUR gross is 8,536.14 net, above it.
    let nine = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        start,
        None,
        50,
        Some(9_000),
    )]);
    assert_eq!(
        status(Some(&nine), did, start + 30, &t),
        UnemploymentStatus::Kept
    );
    let above = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        start,
        None,
        50,
        Some(9_400),
    )]);
    assert!(matches!(
        status(Some(&above), did, start + 30, &t),
        UnemploymentStatus::Suspended { .. }
    ));
}

#[test]
fn a_short_job_above_the_threshold_suspends_only_while_it_lasts() {
    let did = day(2027, 1, 10);
    let start = day(2027, 2, 1);
    let end = day(2027, 5, 31);
    let r = record(vec![job(
        "C1",
        ContractType::Determinato,
        start,
        Some(end),
        100,
        Some(24_000),
    )]);
    let t = thresholds();
    assert_eq!(
        status(Some(&r), did, day(2027, 3, 1), &t),
        UnemploymentStatus::Suspended {
            until: end,
            hire_code: "C1".into()
        }
    );
    assert_eq!(status(Some(&r), did, end + 1, &t), UnemploymentStatus::Kept);
    assert_eq!(
        status(Some(&r), did, end + 400, &t),
        UnemploymentStatus::Kept
    );
}

#[test]
fn unknown_pay_or_an_uncovered_day_is_undetermined_and_a_traineeship_does_not_count() {
    let did = day(2027, 1, 10);
    let start = day(2027, 2, 1);
    let t = thresholds();
    let unknown = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        start,
        None,
        100,
        None,
    )]);
    let s = status(Some(&unknown), did, start + 10, &t);
    assert!(matches!(s, UnemploymentStatus::Undetermined { .. }));
    assert!(
        s.reason().contains("non indica la retribuzione"),
        "{}",
        s.reason()
    );
    // Before D.L. 4/2019 (30/03/2019) no threshold is encoded.
    let old = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        day(2018, 6, 1),
        None,
        100,
        Some(20_000),
    )]);
    assert!(matches!(
        status(Some(&old), day(2018, 1, 1), day(2018, 7, 1), &t),
        UnemploymentStatus::Undetermined { .. }
    ));
    // A traineeship keeps the status, whatever it pays.
    let stage = record(vec![job(
        "C1",
        ContractType::Tirocinio,
        start,
        Some(start + 300),
        100,
        Some(20_000),
    )]);
    assert_eq!(
        status(Some(&stage), did, start + 200, &t),
        UnemploymentStatus::Kept
    );
    assert_eq!(status(None, did, start, &t), UnemploymentStatus::Kept);
}

#[test]
fn the_threshold_of_the_day_the_job_starts_applies() {
    let t = thresholds();
    let on = |y, m, d| t.on(day(y, m, d)).map(|p| p.employee_eur);
    assert_eq!(on(2019, 3, 29), None);
    assert_eq!(on(2019, 3, 30), Some(8_145));
    assert_eq!(on(2021, 12, 31), Some(8_145));
    assert_eq!(on(2022, 1, 1), Some(8_174));
    assert_eq!(on(2024, 1, 1), Some(8_500));
    // 9,100 EUR gross (8,263.71 net) is above 8,145 (2021) but within 8,500 (2024).
    let did = day(2021, 1, 10);
    let r2021 = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        day(2021, 2, 1),
        None,
        100,
        Some(9_100),
    )]);
    assert!(matches!(
        status(Some(&r2021), did, day(2021, 3, 1), &t),
        UnemploymentStatus::Suspended { .. }
    ));
    let r2024 = record(vec![job(
        "C1",
        ContractType::Indeterminato,
        day(2024, 2, 1),
        None,
        100,
        Some(9_100),
    )]);
    assert_eq!(
        status(Some(&r2024), day(2024, 1, 10), day(2024, 3, 1), &t),
        UnemploymentStatus::Kept
    );
}

#[test]
fn malformed_threshold_tables_are_refused() {
    let base = "suspension_max_days = 180\nemployee_contribution_rate_bp = 919\n";
    let period = |from: &str, until: &str, eur: u32, source: &str| {
        format!(
            "[[periods]]\nvalid_from = {from}\n{until}employee_eur = {eur}\nself_employed_eur = 1\nsource = \"{source}\"\n"
        )
    };
    for text in [
        format!(
            "{base}{}",
            period("2020-01-01", "valid_until = 2019-01-01\n", 8000, "s")
        ),
        format!("{base}{}", period("2020-01-01", "", 0, "s")),
        format!("{base}{}", period("2020-01-01", "", 8000, "")),
        format!(
            "{base}{}{}",
            period("2020-01-01", "", 8000, "s"),
            period("2021-01-01", "", 8100, "s")
        ),
        "suspension_max_days = 0\nemployee_contribution_rate_bp = 919\n".to_string(),
    ] {
        assert!(Thresholds::from_toml(&text).is_err(), "{text}");
    }
    assert!(
        Thresholds::from_toml(&format!("{base}{}", period("2020-01-01", "", 8000, "s"))).is_ok()
    );
}
