//! Job seekers and their work history.
//!
//! One candidate is one person: personal data with a valid codice fiscale, a SAP candidacy
//! (registered at the DID, sometimes updated, suspended or withdrawn) following the GOL
//! profile of Piemonte, and the comunicazioni obbligatorie of their contracts: past ones
//! that ended before the DID (the reason they are unemployed, and their NASpI), and for some
//! a current job taken after registering, full time (they are no longer available) or part
//! time (still available for compatible hours).

use incontra_engine::codice_fiscale::generate;
use incontra_proto::events::v1::candidacy_event::Kind as CandKind;
use incontra_proto::events::v1::comunicazione_obbligatoria::Quadro;
use incontra_proto::events::v1::envelope::Payload;
use incontra_proto::events::v1::{
    Assunzione, AvailabilityChanged, CandidacyEvent, CandidacyRegistered, CandidacyWithdrawn,
    CandidateProfile, Cessazione, CoAction, ComunicazioneObbligatoria, ContractType,
    EducationLevel, Employer, Envelope, GolPath, IncomeSupport, LanguageRequirement, PersonalData,
    Proroga, ProtectedCategory, Trasformazione, WorkExperience,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::catalogue::{shared_depth, Profession, Sector, PROFESSIONS, SOFT_SKILLS};
use crate::names::{
    email, phone, Origin, ITALIAN, ITALIAN_BIRTHPLACES, ORIGINS, PIEMONTE_BIRTHPLACES,
};
use crate::rng::{chance, entity_rng, office_ms, pick, pick_or, weighted_index, Stream};
use crate::text::{capitalise, days_in_month, join_list, language_name};
use crate::vacancy::{contract_months, make_employer, pick_contract};
use crate::{Emitter, Generator};

const MONTH_DAYS: i32 = 30;

/// Tipologia contrattuale of the Unificato LAV tables. A.01.00 and A.02.00 are the
/// open-ended and fixed-term codes; the engine reads `contract_type`, the code is for display.
fn contract_code(c: ContractType) -> &'static str {
    match c {
        ContractType::Indeterminato => "A.01.00",
        ContractType::Determinato | ContractType::Somministrazione => "A.02.00",
        ContractType::Apprendistato => "A.03.08",
        ContractType::Intermittente => "A.05.02",
        ContractType::Tirocinio => "C.01.00",
        ContractType::Stagionale => "A.02.01",
        ContractType::Unspecified => "",
    }
}

/// Open-ended in law: no end date on the hire.
fn open_ended(c: ContractType) -> bool {
    matches!(
        c,
        ContractType::Indeterminato | ContractType::Apprendistato | ContractType::Intermittente
    )
}

/// A contract in the worker's history, before it becomes notices.
struct Job {
    profession: &'static Profession,
    employer: Employer,
    comune: String,
    start: i32,
    /// Planned end of a fixed-term contract.
    end: Option<i32>,
    contract: ContractType,
    hours: u32,
    /// Proroga: (notice day, new end).
    extension: Option<(i32, i32)>,
    /// Trasformazione to open-ended on this day.
    transformed: Option<i32>,
    /// Cessazione: (day, cause).
    ceased: Option<(i32, &'static str)>,
}

impl Job {
    fn months(&self) -> u32 {
        let end = self
            .ceased
            .map(|c| c.0)
            .or(self.extension.map(|e| e.1))
            .or(self.end)
            .unwrap_or(self.start);
        (((end - self.start).max(0) / MONTH_DAYS) as u32).max(1)
    }
}

/// The person behind a candidacy.
struct Person {
    female: bool,
    age: i32,
    origin: Option<&'static Origin>,
    given: String,
    family: String,
    cf: String,
}

fn gol_path<R: Rng>(rng: &mut R) -> GolPath {
    // Half of the job seekers are in a GOL path, split as the 2022 intake.
    if !rng.random_bool(0.5) {
        return GolPath::None;
    }
    const PATHS: [(GolPath, u64); 4] = [
        (GolPath::Reinserimento, 23_588),
        (GolPath::Upskilling, 12_408),
        (GolPath::Reskilling, 7_768),
        (GolPath::LavoroEInclusione, 1_020),
    ];
    PATHS[weighted_index(rng, &PATHS, |p| p.1)].0
}

fn person<R: Rng>(rng: &mut R, generator: &Generator, province: &str) -> Person {
    let female = chance(rng, 58.6);
    let age = match rng.random_range(0..1000u32) {
        0..=294 => rng.random_range(18..=29),
        295..=823 => rng.random_range(30..=54),
        _ => rng.random_range(55..=64),
    };
    let origin = if chance(rng, 21.8) {
        Some(&ORIGINS[weighted_index(rng, ORIGINS, |o| u64::from(o.weight))])
    } else {
        None
    };
    let pool = origin.map_or(&ITALIAN, |o| o.names);
    let given = if female {
        pick(rng, pool.female)
    } else {
        pick(rng, pool.male)
    };
    let family = pick(rng, pool.family);
    let belfiore = match origin {
        Some(o) => o.belfiore,
        None => {
            // Older Piemontesi were often born in the South.
            let south = if age >= 50 { 30.0 } else { 10.0 };
            if chance(rng, south) {
                ITALIAN_BIRTHPLACES[weighted_index(rng, ITALIAN_BIRTHPLACES, |b| u64::from(b.1))].0
            } else {
                let i = weighted_index(rng, PIEMONTE_BIRTHPLACES, |b| {
                    u64::from(b.2) * if b.0 == province { 8 } else { 1 }
                });
                PIEMONTE_BIRTHPLACES[i].1
            }
        }
    };
    let year = generator.today_year - age;
    let month = rng.random_range(1..=12u32);
    let day = rng.random_range(1..=days_in_month(year, month));
    let cf = generate(family, given, year, month, day, female, belfiore)
        .or_else(|_| generate(family, given, year, month, 1, female, "L219"))
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    Person {
        female,
        age,
        origin,
        given: given.to_owned(),
        family: family.to_owned(),
        cf,
    }
}

/// Primary profession: demand weights tilted by the person's sex, as occupational
/// segregation is real and the evaluation must see it.
fn primary_profession<R: Rng>(rng: &mut R, female: bool) -> &'static Profession {
    let i = weighted_index(rng, PROFESSIONS, |p| {
        let share = if female {
            p.female_pct
        } else {
            100 - p.female_pct
        };
        u64::from(p.weight) * u64::from(share.max(1))
    });
    &PROFESSIONS[i]
}

/// Professions related to `p`: same CP2011 group or same sector.
/// Professions related to `p` (same CP2011 group or same sector), tilted by sex like the
/// primary one; `None` when nothing is related.
fn related_profession<R: Rng>(
    rng: &mut R,
    p: &Profession,
    female: bool,
) -> Option<&'static Profession> {
    let weight = |q: &Profession| {
        let share = u64::from(
            if female {
                q.female_pct
            } else {
                100 - q.female_pct
            }
            .max(1),
        );
        let base = if q.code == p.code {
            0
        } else if shared_depth(q.code, p.code) >= 3 {
            u64::from(q.weight) * 6
        } else if q.sector == p.sector || shared_depth(q.code, p.code) >= 2 {
            u64::from(q.weight) * 3
        } else {
            0
        };
        base * share
    };
    if PROFESSIONS.iter().all(|q| weight(q) == 0) {
        return None;
    }
    PROFESSIONS.get(weighted_index(rng, PROFESSIONS, weight))
}

fn workplace<R: Rng>(rng: &mut R, generator: &Generator, cpi: usize) -> (String, String) {
    let geo = &generator.geo;
    let place = if chance(rng, 70.0) {
        geo.cpis
            .get(cpi)
            .and_then(|c| c.comuni_weights.sample(rng).and_then(|k| c.comuni.get(k)))
            .copied()
    } else {
        geo.demand.sample(rng)
    };
    place
        .and_then(|i| geo.places.get(i))
        .map(|p| (p.istat_code.clone(), p.province.clone()))
        .unwrap_or_default()
}

fn ended_job(
    rng: &mut ChaCha8Rng,
    generator: &Generator,
    cpi: usize,
    profession: &'static Profession,
    end_by: i32,
    involuntary: bool,
) -> Job {
    let (comune, province) = workplace(rng, generator, cpi);
    let employer = make_employer(rng, profession, &province, generator.today_year);
    let contract = pick_contract(rng, profession);
    let hours = pick(rng, profession.hours);
    let (job_end, mut job) = if open_ended(contract) {
        let months = rng.random_range(4..=96);
        let start = end_by - months * MONTH_DAYS;
        let cause = if involuntary {
            pick(
                rng,
                &[
                    "licenziamento per giustificato motivo oggettivo",
                    "licenziamento collettivo",
                ],
            )
        } else {
            pick(
                rng,
                &[
                    "dimissioni",
                    "licenziamento per giustificato motivo oggettivo",
                    "risoluzione consensuale",
                    "licenziamento collettivo",
                    "dimissioni per giusta causa",
                ],
            )
        };
        (
            end_by,
            Job {
                profession,
                employer,
                comune,
                start,
                end: None,
                contract,
                hours,
                extension: None,
                transformed: None,
                ceased: Some((end_by, cause)),
            },
        )
    } else {
        let months = contract_months(rng, contract).max(1) as i32;
        let extend = chance(rng, 20.0);
        let extra = if extend { rng.random_range(3..=6) } else { 0 };
        let start = end_by - (months + extra) * MONTH_DAYS;
        let planned = start + months * MONTH_DAYS;
        let extension = extend.then(|| (planned - rng.random_range(2..=10), end_by));
        (
            end_by,
            Job {
                profession,
                employer,
                comune,
                start,
                end: Some(planned),
                contract,
                hours,
                extension,
                transformed: None,
                ceased: None,
            },
        )
    };
    if job.end.is_some() {
        // Fixed term: most ends are notified as "fine contratto"; some end early, and a few
        // were turned into open-ended contracts that later ended.
        if !involuntary && chance(rng, 7.0) && job.extension.is_none() {
            let day = job.start + (job_end - job.start) / 2;
            job.transformed = Some(day);
            job.ceased = Some((
                job_end,
                pick(rng, &["dimissioni", "risoluzione consensuale"]),
            ));
        } else if !involuntary && chance(rng, 12.0) {
            job.ceased = Some((
                job_end,
                pick(
                    rng,
                    &["dimissioni", "mancato superamento del periodo di prova"],
                ),
            ));
        } else if chance(rng, 65.0) {
            job.ceased = Some((job_end, "fine contratto a termine"));
        }
    }
    job
}

/// Appends the events of candidate `i`: the candidacy stream, then the worker's CO stream.
pub(crate) fn events(generator: &Generator, i: u64, out: &mut Vec<Envelope>) {
    let config = &generator.config;
    let geo = &generator.geo;
    let seed = config.seed;
    let today = config.today;
    let last = today - 1;
    let mut rng = entity_rng(seed, Stream::Candidate, i);

    // Where they live decides their CPI, and their birthplace leans on the province.
    let cpi_index = geo.supply.sample(&mut rng).unwrap_or(0);
    let Some(cpi) = geo.cpis.get(cpi_index) else {
        return;
    };
    let place = cpi
        .comuni_weights
        .sample(&mut rng)
        .and_then(|k| cpi.comuni.get(k))
        .and_then(|&k| geo.places.get(k));
    let Some(place) = place else { return };
    let p = person(&mut rng, generator, &place.province);

    // DID: a quarter are long-term unemployed (more than 12 months).
    let long_term = chance(&mut rng, 25.0);
    let did_day = if long_term {
        today - rng.random_range(366..=1_100)
    } else {
        let u: f64 = rng.random();
        today - 2 - (u * 360.0) as i32
    };

    let income_support = match rng.random_range(0..1000u32) {
        0..=519 => IncomeSupport::Naspi,
        520..=569 => IncomeSupport::DisColl,
        570..=680 => IncomeSupport::Adi,
        681..=711 => IncomeSupport::Sfl,
        _ => IncomeSupport::None,
    };
    let lost_job = matches!(
        income_support,
        IncomeSupport::Naspi | IncomeSupport::DisColl
    );
    let gol = gol_path(&mut rng);
    let vulnerable = gol == GolPath::LavoroEInclusione
        || chance(
            &mut rng,
            if income_support == IncomeSupport::Adi {
                20.0
            } else {
                7.0
            },
        );
    let protected = match rng.random_range(0..1000u32) {
        0..=29 => ProtectedCategory::Art1,
        30..=34 => ProtectedCategory::Art18,
        _ => ProtectedCategory::None,
    };

    // Professions.
    let primary = primary_profession(&mut rng, p.female);
    let mut desired: Vec<&'static Profession> = vec![primary];
    for _ in 0..rng.random_range(0..=2) {
        if let Some(q) = related_profession(&mut rng, primary, p.female) {
            if !desired.iter().any(|d| d.code == q.code) {
                desired.push(q);
            }
        }
    }

    // Work history as comunicazioni obbligatorie: contracts ending before the DID.
    // A contract yields about 1.8 notices on average (hire, most cessazioni, some
    // proroghe and corrections) and 18% of people hold a current one; solve for the
    // number of past contracts that meets the configured notices per candidate.
    let lambda = ((config.co_per_candidate - 0.2) / 1.8).max(0.0);
    let extra_mean = (lambda - 0.57).max(0.0);
    let mut past_count = extra_mean as u32 + u32::from(rng.random::<f64>() < extra_mean.fract());
    if lost_job {
        past_count += 1;
    }
    let earliest = today - (p.age - 17).max(0) * 365;
    let mut jobs: Vec<Job> = Vec::new();
    let mut end_by = did_day - rng.random_range(1..=45);
    for k in 0..past_count {
        let profession = if chance(&mut rng, 85.0) {
            *pick_or(&mut rng, &desired, &primary)
        } else {
            primary_profession(&mut rng, p.female)
        };
        let job = ended_job(
            &mut rng,
            generator,
            cpi_index,
            profession,
            end_by,
            lost_job && k == 0,
        );
        if job.start < earliest {
            break;
        }
        end_by = job.start - rng.random_range(15..=300);
        jobs.push(job);
    }
    jobs.reverse();

    // A current job taken after the DID: full time for about 10% (then unavailable),
    // part time for about 8%.
    let current = rng.random_range(0..1000u32);
    if current < 180 && last - did_day > 10 {
        let full = current < 100;
        let start = rng.random_range(did_day + 7..=last - 1);
        let profession = if chance(&mut rng, 80.0) {
            primary
        } else {
            *pick_or(&mut rng, &desired, &primary)
        };
        let (comune, province) = workplace(&mut rng, generator, cpi_index);
        let employer = make_employer(&mut rng, profession, &province, generator.today_year);
        let contract = pick(
            &mut rng,
            &[
                ContractType::Indeterminato,
                ContractType::Indeterminato,
                ContractType::Determinato,
                ContractType::Determinato,
                ContractType::Somministrazione,
            ],
        );
        let hours = if full {
            100
        } else {
            pick(&mut rng, &[25, 40, 50, 50, 60])
        };
        let (end, extension) = if open_ended(contract) {
            (None, None)
        } else {
            let months = pick(&mut rng, &[6, 12, 12, 24]);
            let planned = start + months * MONTH_DAYS;
            if planned > last {
                (Some(planned), None)
            } else {
                // Still at work today: the contract was extended before it ran out.
                let notice = (planned - rng.random_range(2..=10)).max(start + 1);
                (
                    Some(planned),
                    Some((notice, today + rng.random_range(60..=300))),
                )
            }
        };
        jobs.push(Job {
            profession,
            employer,
            comune,
            start,
            end,
            contract,
            hours,
            extension,
            transformed: None,
            ceased: None,
        });
    }

    let profile = profile(
        &mut rng,
        generator,
        &p,
        place,
        cpi_index,
        &desired,
        &jobs,
        did_day,
        income_support,
        gol,
        vulnerable,
    );

    // ---- candidacy stream
    let source = if chance(&mut rng, 70.0) {
        "SILP"
    } else {
        "BLP"
    };
    let mut em = Emitter::new(out, format!("demo-{seed}-c-{i}"), generator.candidate_id(i));
    let registered_day = (did_day + rng.random_range(0..=3)).min(last);
    let registered = CandidacyRegistered {
        personal: Some(PersonalData {
            codice_fiscale: p.cf.clone(),
            given_name: p.given.clone(),
            family_name: p.family.clone(),
            email: email(&mut rng, &p.given, &p.family),
            phone: phone(&mut rng),
        }),
        did_day,
        profile: Some(profile.clone()),
        protected_category: protected as i32,
        sealed_personal: None,
    };
    let cand = |kind| Payload::Candidacy(CandidacyEvent { kind: Some(kind) });
    em.emit(
        office_ms(&mut rng, registered_day),
        source,
        cand(CandKind::Registered(registered)),
    );
    let mut day = registered_day;
    if last - day > 10 && chance(&mut rng, 30.0) {
        day += rng.random_range(7..=(last - day).min(120));
        let mut updated = profile.clone();
        match rng.random_range(0..3u32) {
            0 => {
                // A course attended in the GOL path: a new certified skill.
                let skill = pick(&mut rng, primary.certifiable);
                if !skill.is_empty() && !updated.certified_skills.iter().any(|s| s == skill) {
                    updated.certified_skills.push(skill.to_owned());
                    updated.skills.retain(|s| s != skill);
                    updated
                        .summary
                        .push_str(&format!(" Ha conseguito l'attestato: {skill}."));
                }
            }
            1 => {
                updated.max_distance_km = (updated.max_distance_km + 10).min(80);
                updated
                    .summary
                    .push_str(" Ha ampliato la disponibilità agli spostamenti.");
            }
            _ => {
                updated.min_hours_percent = updated.min_hours_percent.min(50);
                updated
                    .summary
                    .push_str(" Ora disponibile anche per part-time.");
            }
        }
        em.emit(
            office_ms(&mut rng, day),
            source,
            cand(CandKind::ProfileUpdated(updated)),
        );
    }
    if last - day > 20 && chance(&mut rng, 7.0) {
        day += rng.random_range(5..=(last - day).min(90) - 10);
        let reason = pick(
            &mut rng,
            &[
                "malattia",
                "motivi familiari",
                "frequenza di un corso di formazione",
            ],
        );
        em.emit(
            office_ms(&mut rng, day),
            source,
            cand(CandKind::AvailabilityChanged(AvailabilityChanged {
                available: false,
                reason: reason.to_owned(),
            })),
        );
        if last - day > 5 && chance(&mut rng, 60.0) {
            day += rng.random_range(3..=(last - day).min(60));
            em.emit(
                office_ms(&mut rng, day),
                source,
                cand(CandKind::AvailabilityChanged(AvailabilityChanged {
                    available: true,
                    reason: "di nuovo disponibile".to_owned(),
                })),
            );
        }
    }
    if last - day > 5 && chance(&mut rng, 3.0) {
        day += rng.random_range(2..=(last - day).min(60));
        let reason = pick(
            &mut rng,
            &[
                "trasferimento fuori regione",
                "perdita dello stato di disoccupazione",
                "rinuncia del lavoratore",
            ],
        );
        em.emit(
            office_ms(&mut rng, day),
            source,
            cand(CandKind::Withdrawn(CandidacyWithdrawn {
                reason: reason.to_owned(),
            })),
        );
    }

    // ---- CO stream of the worker
    co_events(&mut rng, generator, i, &p.cf, &jobs, out);
}

/// The worker's notices, in the order they were sent.
fn co_events(
    rng: &mut ChaCha8Rng,
    generator: &Generator,
    i: u64,
    cf: &str,
    jobs: &[Job],
    out: &mut Vec<Envelope>,
) {
    if cf.is_empty() || jobs.is_empty() {
        return;
    }
    let last = generator.config.today - 1;
    let seed = generator.config.seed;
    // (sent day, notice); sorted by day afterwards, stable so a hire precedes its own
    // notices sent the same day.
    let mut notices: Vec<(i32, ComunicazioneObbligatoria)> = Vec::new();
    let mut serial = 0u64;
    let mut code = |day: i32| {
        serial += 1;
        let yy = crate::text::civil_from_days(day).0.rem_euclid(100);
        // Region 01 (Piemonte), year, then a number unique to this worker's notice.
        format!("01{yy:02}{:012}", (i * 64 + serial) % 1_000_000_000_000)
    };
    for job in jobs {
        let base = |quadro: Quadro, code: String| ComunicazioneObbligatoria {
            code,
            previous_code: String::new(),
            action: CoAction::Original as i32,
            datore: Some(job.employer.clone()),
            workplace_comune: job.comune.clone(),
            lavoratore_codice_fiscale: cf.to_owned(),
            lavoratore_pseudonym: String::new(),
            quadro: Some(quadro),
        };
        // The hire is notified by the day before work starts.
        let sent = (job.start - rng.random_range(1..=3)).min(last);
        let hire = Assunzione {
            start_day: job.start,
            end_day: job.end.unwrap_or(0),
            contract_code: contract_code(job.contract).to_owned(),
            contract_type: job.contract as i32,
            profession_code: job.profession.code.to_owned(),
            ccnl: job.profession.ccnl.to_owned(),
            hours_percent: job.hours,
        };
        if chance(rng, 0.5) {
            // A hire sent twice by mistake, then cancelled.
            let dup = base(Quadro::Assunzione(hire.clone()), code(sent));
            let dup_code = dup.code.clone();
            notices.push((sent, dup));
            let mut cancel = base(Quadro::Assunzione(hire.clone()), code(sent));
            cancel.action = CoAction::Annullamento as i32;
            cancel.previous_code = dup_code;
            notices.push((sent, cancel));
        }
        let original = base(Quadro::Assunzione(hire.clone()), code(sent));
        let original_code = original.code.clone();
        notices.push((sent, original));
        if chance(rng, 2.0) {
            // Rettifica: the part-time share or the CCNL was wrong.
            let mut fixed = hire.clone();
            if fixed.hours_percent < 100 {
                fixed.hours_percent = (fixed.hours_percent + 10).min(100);
            } else {
                fixed.ccnl.push_str(" (rettificato)");
            }
            let fix_day = (sent + rng.random_range(1..=5)).min(last);
            let mut r = base(Quadro::Assunzione(fixed), code(fix_day));
            r.action = CoAction::Rettifica as i32;
            r.previous_code = original_code;
            notices.push((fix_day, r));
        }
        if let Some((day, new_end)) = job.extension {
            notices.push((
                day.min(last),
                base(
                    Quadro::Proroga(Proroga {
                        new_end_day: new_end,
                    }),
                    code(day),
                ),
            ));
        }
        if let Some(day) = job.transformed {
            let t = Trasformazione {
                day,
                contract_type: ContractType::Indeterminato as i32,
                contract_code: contract_code(ContractType::Indeterminato).to_owned(),
                hours_percent: job.hours,
            };
            notices.push((day.min(last), base(Quadro::Trasformazione(t), code(day))));
        }
        if let Some((day, cause)) = job.ceased {
            let sent = (day + rng.random_range(0..=5)).min(last);
            notices.push((
                sent,
                base(
                    Quadro::Cessazione(Cessazione {
                        day,
                        cause: cause.to_owned(),
                    }),
                    code(sent),
                ),
            ));
        }
    }
    notices.sort_by_key(|n| n.0);
    let mut em = Emitter::new(out, format!("demo-{seed}-co-{i}"), cf.to_owned());
    for (day, notice) in notices {
        // Large employers file in bulk through Commax.
        let big = notice.datore.as_ref().is_some_and(|d| d.employees >= 250);
        let source = if big { "COMMAX" } else { "GECO" };
        em.emit(office_ms(rng, day), source, Payload::Co(notice));
    }
}

#[allow(clippy::too_many_arguments)]
fn profile(
    rng: &mut ChaCha8Rng,
    generator: &Generator,
    p: &Person,
    place: &crate::Place,
    cpi_index: usize,
    desired: &[&'static Profession],
    jobs: &[Job],
    did_day: i32,
    income_support: IncomeSupport,
    gol: GolPath,
    vulnerable: bool,
) -> CandidateProfile {
    let primary = desired.first().copied().unwrap_or(&PROFESSIONS[0]);
    // Experience: the contracts known from the CO that ended before the DID, plus older
    // or undeclared jobs for people with a longer working life.
    let mut experience: Vec<WorkExperience> = Vec::new();
    for job in jobs.iter().filter(|j| j.start < did_day) {
        experience.push(WorkExperience {
            profession_code: job.profession.code.to_owned(),
            ateco_code: job.employer.ateco_code.clone(),
            months: job.months(),
            description: format!(
                "{} presso {}: {}.",
                capitalise(if p.female {
                    job.profession.noun_f
                } else {
                    job.profession.noun_m
                }),
                job.employer.name,
                pick(rng, job.profession.duties)
            ),
        });
    }
    let working_years = (p.age - 18).max(0);
    let older = if working_years >= 4 {
        rng.random_range(0..=(working_years / 8).min(3))
    } else {
        0
    };
    for _ in 0..older {
        let prof = if chance(rng, 85.0) {
            *pick_or(rng, desired, &primary)
        } else {
            primary_profession(rng, p.female)
        };
        let months = rng.random_range(3..=(working_years as u32 * 12 / 3).clamp(4, 120));
        experience.push(WorkExperience {
            profession_code: prof.code.to_owned(),
            ateco_code: pick(rng, prof.ateco).to_owned(),
            months,
            description: format!(
                "{} per {} mesi: {}.",
                capitalise(if p.female { prof.noun_f } else { prof.noun_m }),
                months,
                pick(rng, prof.duties)
            ),
        });
    }
    // What the note says: months in the wanted line of work, and the main other job.
    let related = |code: &str| desired.iter().any(|d| shared_depth(d.code, code) >= 4);
    let related_months: u32 = experience
        .iter()
        .filter(|e| related(&e.profession_code))
        .map(|e| e.months)
        .sum();
    let main_job = experience
        .iter()
        .filter(|e| related(&e.profession_code))
        .max_by_key(|e| e.months)
        .and_then(|e| PROFESSIONS.iter().find(|q| q.code == e.profession_code));
    let other_job = experience
        .iter()
        .filter(|e| !related(&e.profession_code))
        .max_by_key(|e| e.months)
        .and_then(|e| PROFESSIONS.iter().find(|q| q.code == e.profession_code));

    // Skills: mostly those of the wanted professions.
    let mut skills: Vec<String> = Vec::new();
    let add = |s: &str, skills: &mut Vec<String>| {
        if !s.is_empty() && !skills.iter().any(|x| x == s) {
            skills.push(s.to_owned());
        }
    };
    let n = rng.random_range(4..=9usize);
    for _ in 0..n {
        add(pick(rng, primary.skills), &mut skills);
    }
    for q in desired.iter().skip(1) {
        for _ in 0..rng.random_range(1..=3) {
            add(pick(rng, q.skills), &mut skills);
        }
    }
    for _ in 0..rng.random_range(1..=3) {
        add(pick(rng, SOFT_SKILLS), &mut skills);
    }
    let mut certified: Vec<String> = Vec::new();
    if chance(rng, 35.0) || gol == GolPath::Upskilling {
        for q in desired {
            if chance(rng, 60.0) {
                let s = pick(rng, q.certifiable);
                if !s.is_empty() && !certified.iter().any(|c| c == s) {
                    certified.push(s.to_owned());
                }
            }
        }
    }
    skills.retain(|s| !certified.contains(s));

    // Education around the profession's usual level; older people studied less.
    use EducationLevel as E;
    let mut edu = primary.education as i32;
    let r = rng.random_range(0..100u32);
    if r < 18 || (p.age >= 55 && r < 40) {
        edu -= 1;
    } else if r > 82 {
        edu += 1;
    }
    if p.age < 21 {
        edu = edu.min(E::Diploma as i32);
    }
    let education = E::try_from(edu.clamp(E::LicenzaMedia as i32, E::LaureaMagistrale as i32))
        .unwrap_or(E::Diploma);

    // Languages: Italian is implied for the Italian-born.
    let mut languages: Vec<LanguageRequirement> = Vec::new();
    let lang = |code: &str, level: i32| LanguageRequirement {
        language: code.to_owned(),
        level,
    };
    match p.origin {
        Some(o) => {
            languages.push(lang(o.language, 6));
            languages.push(lang("it", pick(rng, &[2, 3, 3, 3, 4, 4, 5])));
            if o.language != "en" && chance(rng, 25.0) {
                languages.push(lang("en", pick(rng, &[2, 3, 4])));
            }
            if o.language == "ar" && chance(rng, 45.0) {
                languages.push(lang("fr", pick(rng, &[3, 4, 5])));
            }
        }
        None => {
            let en = if p.age < 30 {
                75.0
            } else if p.age < 55 {
                55.0
            } else {
                30.0
            };
            if chance(rng, en) {
                let lv = if p.age < 30 {
                    pick(rng, &[3, 3, 4, 4, 5])
                } else {
                    pick(rng, &[2, 2, 3, 3, 4])
                };
                languages.push(lang("en", lv));
            }
            if chance(rng, 15.0) {
                languages.push(lang("fr", pick(rng, &[2, 3, 3, 4])));
            }
            if chance(rng, 6.0) {
                languages.push(lang("es", pick(rng, &[2, 3])));
            }
            if chance(rng, 4.0) {
                languages.push(lang("de", pick(rng, &[2, 3])));
            }
        }
    }
    // Professions that ask for a language attract people who have it.
    for &(code, level) in primary.languages {
        if chance(rng, 70.0) {
            match languages.iter_mut().find(|l| l.language == code) {
                Some(l) => l.level = l.level.max(level),
                None => languages.push(lang(code, level)),
            }
        }
    }

    // Licences and mobility.
    let mut licences: Vec<String> = Vec::new();
    let b_chance = match (p.female, p.origin.is_some()) {
        (false, false) => 88.0,
        (true, false) => 78.0,
        (false, true) => 60.0,
        (true, true) => 40.0,
    };
    if p.age >= 19 && (chance(rng, b_chance) || !primary.licences.is_empty()) {
        licences.push("B".into());
    }
    if desired.iter().any(|d| d.licences.contains(&"CE")) && chance(rng, 85.0) {
        licences.extend(["C", "CE", "CQC"].map(String::from));
    } else if desired.iter().any(|d| d.licences.contains(&"D")) && chance(rng, 85.0) {
        licences.extend(["D", "CQC"].map(String::from));
    }
    let own_vehicle = licences.iter().any(|l| l == "B") && chance(rng, 82.0);
    let max_distance_km = if own_vehicle {
        5 * rng.random_range(4..=12u32)
    } else {
        5 * rng.random_range(2..=6u32)
    };

    // Contracts and hours.
    let mut accepted = vec![ContractType::Indeterminato, ContractType::Determinato];
    if chance(rng, 85.0) {
        accepted.push(ContractType::Somministrazione);
    }
    if p.age < 30 && chance(rng, 80.0) {
        accepted.push(ContractType::Apprendistato);
    }
    if (p.age < 30 && chance(rng, 45.0)) || gol == GolPath::LavoroEInclusione {
        accepted.push(ContractType::Tirocinio);
    }
    let seasonal_sector = matches!(primary.sector, Sector::Horeca | Sector::Agriculture);
    if chance(rng, if seasonal_sector { 70.0 } else { 20.0 }) {
        accepted.push(ContractType::Stagionale);
    }
    if chance(
        rng,
        if primary.sector == Sector::Horeca {
            50.0
        } else {
            15.0
        },
    ) {
        accepted.push(ContractType::Intermittente);
    }
    let (min_hours_percent, max_hours_percent) = if chance(rng, if p.female { 16.0 } else { 5.0 }) {
        (pick(rng, &[25, 50]), pick(rng, &[50, 60, 75]))
    } else if chance(rng, 25.0) {
        (100, 100)
    } else if chance(rng, 65.0) {
        (50, 100)
    } else {
        (75, 100)
    };

    let monthly_benefit_eur = match income_support {
        IncomeSupport::Naspi => 10 * rng.random_range(80..=145u32),
        IncomeSupport::DisColl => 10 * rng.random_range(60..=120u32),
        IncomeSupport::Adi => 10 * rng.random_range(25..=65u32),
        IncomeSupport::Sfl => 500,
        IncomeSupport::None => 0,
    };

    let cpi_code = generator
        .geo
        .cpis
        .get(cpi_index)
        .map(|c| c.code.clone())
        .unwrap_or_default();
    let summary = summary(
        rng,
        p,
        place,
        desired,
        related_months,
        main_job,
        other_job,
        own_vehicle,
        max_distance_km,
        min_hours_percent,
        max_hours_percent,
        income_support,
        gol,
        &certified,
        &languages,
    );

    CandidateProfile {
        domicile_comune: place.istat_code.clone(),
        max_distance_km,
        own_vehicle,
        desired_professions: desired.iter().map(|d| d.code.to_owned()).collect(),
        experience,
        skills,
        certified_skills: certified,
        education: education as i32,
        languages,
        driving_licences: licences,
        accepted_contracts: accepted.into_iter().map(|c| c as i32).collect(),
        min_hours_percent,
        max_hours_percent,
        income_support: income_support as i32,
        gol_path: gol as i32,
        cpi_code,
        vulnerable,
        summary,
        monthly_benefit_eur,
        // Synthetic patti state no distance of their own, and households are not generated.
        patto_max_distance_km: None,
        children_under_14: None,
    }
}

/// An operator's note: who, what they did, what they look for.
#[allow(clippy::too_many_arguments)]
fn summary(
    rng: &mut ChaCha8Rng,
    p: &Person,
    place: &crate::Place,
    desired: &[&'static Profession],
    related_months: u32,
    main_job: Option<&Profession>,
    other_job: Option<&Profession>,
    own_vehicle: bool,
    max_km: u32,
    min_hours: u32,
    max_hours: u32,
    income: IncomeSupport,
    gol: GolPath,
    certified: &[String],
    languages: &[LanguageRequirement],
) -> String {
    let (who, o_suffix) = if p.female {
        ("Candidata", "a")
    } else {
        ("Candidato", "o")
    };
    let noun = |d: &Profession| if p.female { d.noun_f } else { d.noun_m };
    let first = desired.first().copied().unwrap_or(&PROFESSIONS[0]);
    let origin = p
        .origin
        .map(|o| format!(", originari{o_suffix} {}", o.from))
        .unwrap_or_default();
    let years = related_months / 12;
    let main = main_job.unwrap_or(first);
    let mut experience = if related_months < 6 {
        match other_job {
            Some(o) => format!(
                "con esperienza come {}, cerca ora lavoro come {}",
                noun(o),
                noun(first)
            ),
            None => format!("in cerca di prima occupazione come {}", noun(first)),
        }
    } else if years < 2 {
        format!(
            "con {related_months} mesi di esperienza come {}",
            noun(main)
        )
    } else {
        format!("con circa {years} anni di esperienza come {}", noun(main))
    };
    if related_months >= 6 {
        if let Some(o) = other_job {
            experience.push_str(&format!(" e precedenti esperienze come {}", noun(o)));
        }
        if main.code != first.code {
            experience.push_str(&format!(", cerca lavoro come {}", noun(first)));
        }
    }
    let mut s = format!("{who} di {} anni{origin}, {experience}.", p.age);
    // The job already named above is not repeated among the alternatives.
    let others: Vec<String> = desired
        .iter()
        .skip(1)
        .filter(|d| related_months < 6 || d.code != main.code)
        .map(|d| noun(d).to_owned())
        .collect();
    if !others.is_empty() {
        s.push_str(&format!(
            " Valuta anche proposte come {}.",
            join_list(&others)
        ));
    }
    let hours = if min_hours >= 100 {
        "solo a tempo pieno".to_owned()
    } else if max_hours < 100 {
        format!("part-time (massimo {max_hours}%)")
    } else {
        "a tempo pieno o part-time".to_owned()
    };
    let mobility = if own_vehicle {
        format!(
            "automunit{o_suffix}, disponibile a spostarsi fino a {max_km} km da {}",
            place.name
        )
    } else {
        format!(
            "senza auto, cerca nella zona di {} (entro {max_km} km) raggiungibile con i mezzi",
            place.name
        )
    };
    s.push_str(&format!(" Disponibile {hours}; {mobility}."));
    let mut third: Vec<String> = Vec::new();
    match income {
        IncomeSupport::Naspi | IncomeSupport::DisColl => {
            let who = if p.female {
                "percettrice"
            } else {
                "percettore"
            };
            let what = if income == IncomeSupport::Naspi {
                "NASpI"
            } else {
                "DIS-COLL"
            };
            third.push(format!("{who} di {what}"));
        }
        IncomeSupport::Adi => third.push("nucleo beneficiario di Assegno di inclusione".into()),
        IncomeSupport::Sfl => third.push(format!(
            "beneficiari{o_suffix} del Supporto per la formazione e il lavoro"
        )),
        IncomeSupport::None => {}
    }
    let path = match gol {
        GolPath::Reinserimento => Some("reinserimento lavorativo"),
        GolPath::Upskilling => Some("aggiornamento (upskilling)"),
        GolPath::Reskilling => Some("riqualificazione (reskilling)"),
        GolPath::LavoroEInclusione => Some("lavoro e inclusione"),
        _ => None,
    };
    if let Some(path) = path {
        third.push(format!("inserit{o_suffix} nel percorso GOL di {path}"));
    }
    if let Some(c) = certified.first() {
        third.push(format!("in possesso di {c}"));
    }
    if p.origin.is_some() {
        if let Some(it) = languages.iter().find(|l| l.language == "it") {
            third.push(format!(
                "parla italiano a livello {}",
                crate::text::cefr_name(it.level)
            ));
        }
    } else if let Some(l) = languages.iter().find(|l| l.level >= 4) {
        third.push(format!(
            "buona conoscenza della lingua {}",
            language_name(&l.language)
        ));
    }
    if !third.is_empty() && chance(rng, 85.0) {
        s.push(' ');
        s.push_str(&capitalise(&join_list(&third)));
        s.push('.');
    }
    s
}
