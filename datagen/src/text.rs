//! Calendar arithmetic and the Italian phrases shared by ads, CVs and operator notes.

use incontra_proto::events::v1::{ContractType, EducationLevel};

/// (year, month, day) of a day since the epoch (proleptic Gregorian; H. Hinnant's algorithm),
/// in integers so that it is exact everywhere.
pub fn civil_from_days(day: i32) -> (i32, u32, u32) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

/// Days in a month of a year.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// "1.650" — Italian thousands separator.
pub fn euro(amount: u32) -> String {
    if amount >= 1000 {
        format!("{}.{:03}", amount / 1000, amount % 1000)
    } else {
        amount.to_string()
    }
}

pub fn contract_phrase(contract: ContractType, months: u32) -> String {
    match contract {
        ContractType::Indeterminato => "contratto a tempo indeterminato".into(),
        ContractType::Determinato => {
            format!("contratto a tempo determinato di {months} mesi, con possibilità di proroga")
        }
        ContractType::Somministrazione => {
            format!("contratto in somministrazione di {months} mesi tramite agenzia per il lavoro, finalizzato all'inserimento")
        }
        ContractType::Apprendistato => "contratto di apprendistato professionalizzante".into(),
        ContractType::Tirocinio => {
            format!("tirocinio extracurriculare di {months} mesi con indennità di partecipazione")
        }
        ContractType::Intermittente => "contratto intermittente (a chiamata)".into(),
        ContractType::Stagionale => format!("contratto stagionale di {months} mesi"),
        ContractType::Unspecified => "contratto da definire in sede di colloquio".into(),
    }
}

pub fn hours_phrase(hours_percent: u32) -> String {
    if hours_percent >= 100 {
        "tempo pieno (40 ore settimanali)".into()
    } else {
        format!(
            "part-time al {hours_percent}% ({} ore settimanali)",
            hours_percent * 40 / 100
        )
    }
}

pub fn education_phrase(level: EducationLevel) -> &'static str {
    match level {
        EducationLevel::Unspecified | EducationLevel::None => "",
        EducationLevel::LicenzaMedia => "licenza media",
        EducationLevel::QualificaProfessionale => "qualifica professionale nel settore",
        EducationLevel::Diploma => "diploma di scuola superiore",
        EducationLevel::Its => "diploma ITS",
        EducationLevel::LaureaTriennale => "laurea triennale",
        EducationLevel::LaureaMagistrale => "laurea magistrale",
        EducationLevel::Dottorato => "dottorato di ricerca",
    }
}

/// Name of a language in Italian, for ads and notes.
pub fn language_name(code: &str) -> &'static str {
    match code {
        "en" => "inglese",
        "fr" => "francese",
        "de" => "tedesco",
        "es" => "spagnolo",
        "it" => "italiano",
        "ro" => "rumeno",
        "ar" => "arabo",
        "sq" => "albanese",
        "zh" => "cinese",
        "uk" => "ucraino",
        "ur" => "urdu",
        "hi" => "hindi",
        "bn" => "bengalese",
        "tl" => "tagalog",
        "pt" => "portoghese",
        _ => "lingua straniera",
    }
}

pub fn cefr_name(level: i32) -> &'static str {
    match level {
        1 => "A1",
        2 => "A2",
        3 => "B1",
        4 => "B2",
        5 => "C1",
        6 => "C2",
        _ => "",
    }
}

/// "a, b e c".
pub fn join_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} e {}", init.join(", "), last),
    }
}

/// Upper-cases the first letter.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
