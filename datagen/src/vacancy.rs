//! Vacancies and employers: who hires, where, for what, and how the ad reads.
//!
//! A vacancy is published by a CPI operator on SILP or by the company on the BLP portal;
//! some are later updated (publication extended, pay raised), have positions filled, are
//! closed or withdrawn. Employers are also drawn here for the candidates' work history.

use incontra_engine::codice_fiscale::{generate, generate_partita_iva};
use incontra_proto::events::v1::envelope::Payload;
use incontra_proto::events::v1::vacancy_event::Kind;
use incontra_proto::events::v1::{
    ContractType, EducationLevel, Employer, LanguageRequirement, PositionsFilled, ReservedQuota,
    TargetProgramme, Vacancy, VacancyClosed, VacancyEvent, VacancyWithdrawn,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::catalogue::{Profession, Sector, PROFESSIONS};
use crate::names::{ITALIAN, REGION_WORDS, VENUE_WORDS};
use crate::rng::{chance, entity_rng, office_ms, pick, weighted_index, Stream};
use crate::text::{
    capitalise, cefr_name, contract_phrase, education_phrase, euro, hours_phrase, join_list,
    language_name,
};
use crate::{Emitter, Generator};

/// Name patterns by sector: {S} family name, {G} given name, {V} venue word, {R} region word.
fn name_patterns(sector: Sector) -> &'static [&'static str] {
    match sector {
        Sector::Horeca => &[
            "Trattoria Da {G}",
            "Ristorante {V}",
            "Osteria {V}",
            "Bar {V}",
            "Hotel {V}",
            "Pizzeria {V}",
            "Caffè {V}",
            "Albergo {V}",
        ],
        Sector::Retail => &[
            "Supermercati {S}",
            "{S} Abbigliamento",
            "Market {V}",
            "Emporio {V}",
            "Ferramenta {S}",
            "{S} Calzature",
            "Macelleria {S}",
            "Gastronomia {S}",
        ],
        Sector::Logistics => &[
            "Logistica {R}",
            "{S} Trasporti",
            "{R} Logistics",
            "Magazzini {S}",
            "Servizi Logistici {R}",
            "{S} Spedizioni",
        ],
        Sector::Transport => &[
            "Autotrasporti {S}",
            "{S} Trasporti",
            "Trasporti {R}",
            "{R} Bus",
        ],
        Sector::Care => &[
            "Cooperativa Sociale {V}",
            "RSA {V}",
            "Residenza {V}",
            "Casa di Riposo {V}",
        ],
        Sector::Cleaning => &[
            "{R} Servizi",
            "Multiservizi {R}",
            "Pulizie {S}",
            "Cooperativa {V}",
        ],
        Sector::Household => &["{S} {G}"],
        Sector::Agriculture => &[
            "Azienda Agricola {S} {G}",
            "Cascina {V}",
            "Frutticoltura {S}",
            "Cantina {S}",
            "Vitivinicola {R}",
        ],
        Sector::Construction => &[
            "Edil {S}",
            "{S} Costruzioni",
            "Costruzioni {R}",
            "Impresa Edile {S}",
        ],
        Sector::Installation => &[
            "{S} Impianti",
            "Elettro {S}",
            "Termoidraulica {S}",
            "Impianti {R}",
        ],
        Sector::Metalwork => &[
            "Meccanica {S} & C.",
            "Officine {S}",
            "Carpenteria {R}",
            "Minuterie {S}",
            "Tecnomeccanica {R}",
        ],
        Sector::Manufacturing => &[
            "{S} Industrie",
            "Plastiche {R}",
            "{R} Components",
            "Stampaggio {S}",
        ],
        Sector::Food => &[
            "Dolciaria {R}",
            "Panificio {S}",
            "Pastificio {S}",
            "Salumificio {S}",
            "Confetteria {S}",
            "Alimentari {R}",
        ],
        Sector::Automotive => &[
            "Autofficina {S}",
            "Car Service {S}",
            "Officina {S}",
            "{S} Auto",
        ],
        Sector::Office => &[
            "Studio {S} Commercialisti Associati",
            "{R} Consulting",
            "{S} & Partners",
            "Servizi Amministrativi {R}",
        ],
        Sector::Ict => &["{R} Software", "{S} Informatica", "Digital {R}", "{R} Tech"],
        Sector::Health => &[
            "Casa di Cura {V}",
            "Clinica {V}",
            "Poliambulatorio {V}",
            "RSA {V}",
        ],
        Sector::Education => &[
            "Asilo Nido {V}",
            "Cooperativa {V}",
            "Scuola dell'Infanzia {V}",
        ],
        Sector::Beauty => &["Parrucchieria {G}", "Hair Studio {V}", "Acconciature {S}"],
        Sector::Security => &["{R} Vigilanza", "Servizi Fiduciari {R}", "Vigilanza {S}"],
        Sector::Wholesale => &["{S} Distribuzione", "Commerciale {R}", "{S} Forniture"],
    }
}

fn sector_words(sector: Sector) -> &'static str {
    match sector {
        Sector::Horeca => "della ristorazione e dell'ospitalità",
        Sector::Retail => "della grande distribuzione e del commercio",
        Sector::Logistics => "della logistica",
        Sector::Transport => "dei trasporti",
        Sector::Care => "dei servizi socio-assistenziali",
        Sector::Cleaning => "dei servizi di pulizia",
        Sector::Household => "dei servizi alla famiglia",
        Sector::Agriculture => "agricolo e vitivinicolo",
        Sector::Construction => "edile",
        Sector::Installation => "dell'impiantistica",
        Sector::Metalwork => "metalmeccanico",
        Sector::Manufacturing => "manifatturiero",
        Sector::Food => "alimentare",
        Sector::Automotive => "dell'assistenza auto",
        Sector::Office => "dei servizi alle imprese",
        Sector::Ict => "informatico",
        Sector::Health => "sanitario",
        Sector::Education => "dei servizi educativi per l'infanzia",
        Sector::Beauty => "dell'acconciatura",
        Sector::Security => "della vigilanza",
        Sector::Wholesale => "del commercio all'ingrosso",
    }
}

/// Uffici provinciali of the Agenzia delle Entrate: the last three digits of a partita IVA.
fn vat_office(province: &str) -> u64 {
    match province {
        "TO" => 1,
        "VC" => 2,
        "NO" => 3,
        "CN" => 4,
        "AT" => 5,
        "AL" => 6,
        "BI" => 96,
        "VB" => 103,
        _ => 1,
    }
}

/// Employees of a firm: most Italian firms are micro, care, cleaning, logistics and
/// manufacturing run larger.
fn employees<R: Rng>(rng: &mut R, sector: Sector) -> u32 {
    let big = matches!(
        sector,
        Sector::Care
            | Sector::Cleaning
            | Sector::Logistics
            | Sector::Manufacturing
            | Sector::Health
            | Sector::Security
            | Sector::Food
    );
    let x: u32 = rng.random_range(0..100);
    let (micro, small, medium) = if big { (25, 60, 88) } else { (55, 85, 97) };
    if sector == Sector::Household {
        1
    } else if x < micro {
        rng.random_range(1..10)
    } else if x < small {
        rng.random_range(10..50)
    } else if x < medium {
        rng.random_range(50..250)
    } else {
        rng.random_range(250..3000)
    }
}

/// A plausible employer of `profession` with premises in `province` / `comune_name`.
pub(crate) fn make_employer(
    rng: &mut ChaCha8Rng,
    profession: &Profession,
    province: &str,
    today_year: i32,
) -> Employer {
    let sector = profession.sector;
    let ateco = pick(rng, profession.ateco).to_owned();
    let employees = employees(rng, sector);
    let surname = pick(rng, ITALIAN.family);
    let given = pick(rng, ITALIAN.male);
    let pattern = pick(rng, name_patterns(sector));
    let mut name = pattern
        .replace("{S}", surname)
        .replace("{G}", given)
        .replace("{V}", pick(rng, VENUE_WORDS))
        .replace("{R}", pick(rng, REGION_WORDS));
    if sector == Sector::Household {
        // A family employing a carer: the employer is a private person with a personal code.
        let year = today_year - rng.random_range(40..90);
        let fiscal_code = generate(
            surname,
            given,
            year,
            rng.random_range(1..13),
            rng.random_range(1..29),
            false,
            "L219",
        )
        .map(|cf| cf.as_str().to_owned())
        .unwrap_or_default();
        return Employer {
            fiscal_code,
            name,
            ateco_code: ateco,
            employees,
        };
    }
    let suffix = if name.starts_with("Cooperativa") {
        "Soc. Coop."
    } else if employees < 10 {
        pick(rng, &["Snc", "Sas", "Srl", "Srls", "Snc"])
    } else if employees < 50 {
        pick(rng, &["Srl", "Srl", "Snc"])
    } else if employees < 250 {
        pick(rng, &["Srl", "Spa"])
    } else {
        "Spa"
    };
    name.push(' ');
    name.push_str(suffix);
    let serial = rng.random_range(1_000_000..9_999_999u64);
    Employer {
        fiscal_code: generate_partita_iva(serial * 1000 + vat_office(province)),
        name,
        ateco_code: ateco,
        employees,
    }
}

/// Contract duration in months for a fixed-term type.
pub(crate) fn contract_months<R: Rng>(rng: &mut R, contract: ContractType) -> u32 {
    match contract {
        ContractType::Determinato | ContractType::Somministrazione => {
            pick(rng, &[3, 3, 6, 6, 6, 12, 12, 24])
        }
        ContractType::Stagionale => pick(rng, &[2, 3, 4, 5, 6]),
        ContractType::Tirocinio => 6,
        ContractType::Apprendistato => 36,
        _ => 0,
    }
}

pub(crate) fn pick_contract<R: Rng>(rng: &mut R, p: &Profession) -> ContractType {
    p.contracts[weighted_index(rng, p.contracts, |c| u64::from(c.1))].0
}

/// Round to a multiple of 50 euro, as ads quote pay.
fn round50(x: u32) -> u32 {
    (x + 25) / 50 * 50
}

struct Draft {
    vacancy: Vacancy,
    published: i32,
    source: &'static str,
}

fn draft(generator: &Generator, rng: &mut ChaCha8Rng) -> Draft {
    let geo = &generator.geo;
    let today = generator.config.today;
    let prof_index = weighted_index(rng, PROFESSIONS, |p| u64::from(p.weight));
    let p = &PROFESSIONS[prof_index];
    let place_index = geo.demand.sample(rng).unwrap_or(0);
    let (comune_code, comune_name, province, cpi) = match geo.places.get(place_index) {
        Some(pl) => (
            pl.istat_code.clone(),
            pl.name.clone(),
            pl.province.clone(),
            geo.cpis.get(pl.cpi),
        ),
        None => (String::new(), String::new(), String::new(), None),
    };
    let employer = make_employer(rng, p, &province, generator.today_year);

    // Publication mostly recent: the square of a uniform skews towards today.
    let u: f64 = rng.random();
    let age = 1 + (u * u * 150.0) as i32;
    let published = today - age;
    let validity = pick(rng, &[30, 45, 60, 60, 90]);

    let mut required: Vec<String> = Vec::new();
    let mut preferred: Vec<String> = Vec::new();
    let n_req = rng.random_range(2..=4usize).min(p.skills.len());
    let mut order: Vec<usize> = (0..p.skills.len()).collect();
    for k in 0..order.len() {
        let j = rng.random_range(k..order.len());
        order.swap(k, j);
    }
    for &k in order.iter().take(n_req) {
        required.push(p.skills[k].to_owned());
    }
    let n_pref = rng.random_range(1..=3usize);
    for &k in order.iter().skip(n_req).take(n_pref) {
        preferred.push(p.skills[k].to_owned());
    }

    let min_education = if chance(rng, 15.0) {
        EducationLevel::Unspecified
    } else if chance(rng, 20.0) && p.education as i32 > EducationLevel::LicenzaMedia as i32 {
        EducationLevel::try_from(p.education as i32 - 1).unwrap_or(p.education)
    } else {
        p.education
    };
    let languages: Vec<LanguageRequirement> = p
        .languages
        .iter()
        .filter(|_| chance(rng, 60.0))
        .map(|&(language, level)| LanguageRequirement {
            language: language.to_owned(),
            level,
        })
        .collect();
    let licences: Vec<String> = p.licences.iter().map(|s| (*s).to_owned()).collect();
    let min_experience_months = pick(rng, &[0, 0, 0, 6, 12, 12, 24, 36]);
    let contract = pick_contract(rng, p);
    let contract_months = contract_months(rng, contract);
    let hours_percent = pick(rng, p.hours);
    let pay_full = rng.random_range(p.pay.0..=p.pay.1);
    let pay = round50(pay_full * hours_percent / 100);
    let positions = match rng.random_range(0..100u32) {
        0..=69 => 1,
        70..=91 => rng.random_range(2..=3),
        _ => rng.random_range(4..=10),
    };
    let reserved_quota = match rng.random_range(0..1000u32) {
        0..=29 => ReservedQuota::Art1,
        30..=34 => ReservedQuota::Art18,
        _ => ReservedQuota::None,
    };
    let target_programme = match contract {
        ContractType::Tirocinio => TargetProgramme::Tirocinio,
        ContractType::Apprendistato => TargetProgramme::Apprendistato,
        _ if chance(rng, 12.0) => TargetProgramme::Gol,
        _ => TargetProgramme::None,
    };
    let by_operator = chance(rng, 60.0);
    let cpi_code = match (by_operator, cpi) {
        (true, Some(c)) => c.code.clone(),
        _ => String::new(),
    };
    let shifts = chance(rng, f64::from(p.shifts));
    let nights = chance(rng, f64::from(p.nights));
    let weekends = chance(rng, f64::from(p.weekends));
    let title = pick(rng, p.titles).to_owned();

    // Requirements in words.
    let mut req: Vec<String> = Vec::new();
    req.push(if min_experience_months == 0 {
        pick(
            rng,
            &[
                "anche prima esperienza",
                "gradita esperienza nella mansione",
                "disponibilità a imparare",
            ],
        )
        .to_owned()
    } else if min_experience_months < 12 {
        format!("esperienza di almeno {min_experience_months} mesi nella mansione")
    } else {
        let years = min_experience_months / 12;
        format!(
            "esperienza di almeno {years} ann{} nel ruolo",
            if years == 1 { "o" } else { "i" }
        )
    });
    req.push(format!("conoscenza di {}", join_list(&required)));
    let edu = education_phrase(min_education);
    if !edu.is_empty() {
        req.push(edu.to_owned());
    }
    for l in &languages {
        req.push(format!(
            "{} livello {}",
            language_name(&l.language),
            cefr_name(l.level)
        ));
    }
    if !licences.is_empty() {
        req.push(format!("patente {}", licences.join(", ")));
    } else if chance(rng, 30.0) {
        req.push("automunito/a".into());
    }
    let mut availability: Vec<String> = Vec::new();
    if shifts {
        availability.push("turni".into());
    }
    if nights {
        availability.push("orario notturno".into());
    }
    if weekends {
        availability.push("fine settimana e festivi".into());
    }
    if !availability.is_empty() {
        req.push(format!(
            "disponibilità a lavorare su {}",
            join_list(&availability)
        ));
    }
    let duties: Vec<String> = {
        let n = rng.random_range(2..=3usize).min(p.duties.len());
        let start = rng.random_range(0..p.duties.len());
        (0..n)
            .map(|k| p.duties[(start + k) % p.duties.len()].to_owned())
            .collect()
    };
    let duties_text = join_list(&duties);
    let req_text = req.join("; ");
    let contract_text = contract_phrase(contract, contract_months);
    let hours_text = hours_phrase(hours_percent);
    let pay_text = format!("Retribuzione lorda mensile di circa {} euro.", euro(pay));
    let n_text = if positions == 1 {
        "1 risorsa".to_owned()
    } else {
        format!("{positions} risorse")
    };
    let quota_text = match reserved_quota {
        ReservedQuota::Art1 => {
            "\nPosizione riservata agli iscritti al collocamento mirato (L.68/99 art.1)."
        }
        ReservedQuota::Art18 => "\nPosizione riservata alle categorie protette (L.68/99 art.18).",
        ReservedQuota::None => "",
    };
    let cpi_name = cpi.map(|c| c.name.as_str()).unwrap_or("Torino");
    let description = match rng.random_range(0..5u32) {
        0 => format!(
            "{emp}, realtà del settore {sec} con sede a {com} ({prov}), cerca {n_text} come {title}.\n\nLa persona inserita si occuperà di {duties_text}.\n\nRequisiti: {req_text}.\n\nSi offre {contract_text}, {hours_text}, inquadramento secondo il {ccnl}. {pay_text}\nSede di lavoro: {com} ({prov}).{quota_text}",
            emp = employer.name, sec = sector_words(p.sector), com = comune_name, prov = province, ccnl = p.ccnl,
        ),
        1 => format!(
            "Per azienda cliente del settore {sec} ricerchiamo {title} per la sede di {com}.\nMansioni principali: {duties_text}.\nSi richiede: {req_text}.\nContratto: {contract_text}; orario: {hours_text}. Retribuzione come da {ccnl}.{quota_text}",
            sec = sector_words(p.sector), com = comune_name, ccnl = p.ccnl,
        ),
        2 => format!(
            "{title} - {com} ({prov})\n{emp} ricerca una figura da inserire nel proprio organico.\nAttività: {duties_text}.\nCostituiscono requisito: {req_text}.\nOffriamo {contract_text} con orario {hours_text}; CCNL applicato: {ccnl}. {pay_text}{quota_text}",
            com = comune_name, prov = province, emp = employer.name, ccnl = p.ccnl,
        ),
        3 => format!(
            "Il Centro per l'impiego di {cpi_name} ricerca per azienda di {com} ({prov}) {title} ({n_text}).\nMansioni: {duties_text}.\nRequisiti richiesti: {req_text}.\nCondizioni: {contract_text}, {hours_text}. {pay_text}\nPer candidarsi rivolgersi al CPI o tramite il portale IoLavoro.{quota_text}",
            com = comune_name, prov = province,
        ),
        _ => format!(
            "Cerchiamo {title} da inserire nel nostro team a {com}!\nTi occuperai di {duties_text}.\nCerchiamo una persona con {req_text}.\nTi offriamo {contract_text}, {hours_text}, {ccnl}. {pay_text}{quota_text}",
            com = comune_name, ccnl = p.ccnl,
        ),
    };
    let title = if rng.random_bool(0.5) {
        format!("{title} - {comune_name}")
    } else {
        capitalise(&title)
    };
    Draft {
        vacancy: Vacancy {
            title,
            description,
            employer: Some(employer),
            workplace_comune: comune_code,
            profession_code: p.code.to_owned(),
            required_skills: required,
            preferred_skills: preferred,
            min_education: min_education as i32,
            languages,
            driving_licences: licences,
            min_experience_months,
            contract_type: contract as i32,
            contract_months,
            hours_percent,
            shifts,
            nights,
            weekends,
            gross_monthly_pay_eur: pay,
            // Synthetic vacancies name no CCNL: there is no verified table of minimums to draw
            // a consistent one from.
            ccnl: String::new(),
            ccnl_level: String::new(),
            positions,
            reserved_quota: reserved_quota as i32,
            target_programme: target_programme as i32,
            valid_from_day: published,
            valid_until_day: published + validity,
            cpi_code,
        },
        published,
        source: if by_operator { "SILP" } else { "BLP" },
    }
}

fn payload(kind: Kind) -> Payload {
    Payload::Vacancy(VacancyEvent { kind: Some(kind) })
}

/// Appends the events of vacancy `j`.
pub(crate) fn events(
    generator: &Generator,
    j: u64,
    out: &mut Vec<incontra_proto::events::v1::Envelope>,
) {
    let seed = generator.config.seed;
    let today = generator.config.today;
    let mut rng = entity_rng(seed, Stream::Vacancy, j);
    let Draft {
        mut vacancy,
        published,
        source,
    } = draft(generator, &mut rng);
    let mut em = Emitter::new(out, format!("demo-{seed}-v-{j}"), generator.vacancy_id(j));
    em.emit(
        office_ms(&mut rng, published),
        source,
        payload(Kind::Published(vacancy.clone())),
    );
    let mut day = published;
    let last = today - 1;

    if last - day > 7 && chance(&mut rng, 20.0) {
        day += rng.random_range(3..=7);
        if rng.random_bool(0.5) {
            vacancy.valid_until_day += 30;
        } else {
            vacancy.gross_monthly_pay_eur = round50(vacancy.gross_monthly_pay_eur * 105 / 100);
            vacancy
                .description
                .push_str("\nAggiornamento: retribuzione rivista al rialzo.");
        }
        em.emit(
            office_ms(&mut rng, day),
            source,
            payload(Kind::Updated(vacancy.clone())),
        );
    }
    let mut closed = false;
    if last - day > 14 && chance(&mut rng, 40.0) {
        day += rng.random_range(10..=(last - day).min(60));
        let count = rng.random_range(1..=vacancy.positions.max(1));
        em.emit(
            office_ms(&mut rng, day),
            source,
            payload(Kind::PositionsFilled(PositionsFilled { count })),
        );
        if count >= vacancy.positions && last > day && chance(&mut rng, 70.0) {
            day += 1;
            em.emit(
                office_ms(&mut rng, day),
                source,
                payload(Kind::Closed(VacancyClosed {})),
            );
            closed = true;
        }
    }
    if !closed && vacancy.valid_until_day < last && chance(&mut rng, 50.0) {
        day = day.max(vacancy.valid_until_day) + 1;
        if day <= last {
            em.emit(
                office_ms(&mut rng, day),
                source,
                payload(Kind::Closed(VacancyClosed {})),
            );
            closed = true;
        }
    }
    if !closed && last - day > 5 && chance(&mut rng, 3.0) {
        day += rng.random_range(2..=5);
        let reason = pick(
            &mut rng,
            &[
                "esigenza aziendale venuta meno",
                "posizione coperta con personale interno",
                "annuncio pubblicato per errore",
            ],
        );
        em.emit(
            office_ms(&mut rng, day),
            source,
            payload(Kind::Withdrawn(VacancyWithdrawn {
                reason: reason.to_owned(),
            })),
        );
    }
}
