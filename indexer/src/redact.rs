//! Personal identifiers taken out of a profile's free text before anything
//! stores it. People write their own name, e-mail or phone in a summary or
//! a work description; that text is journaled and indexed, and only the
//! sealed personal data can be erased by destroying a key. So the edge
//! replaces, in a candidate's summary and work descriptions, every e-mail
//! address, phone number and codice fiscale, and (when the event names them)
//! the person's own given and family names, by [`REDACTED`]. Matching never
//! needed them.

use incontra_engine::codice_fiscale::CodiceFiscale;
use incontra_proto::events::v1 as pb;

/// What a removed identifier becomes.
pub const REDACTED: &str = "[dato personale]";

/// The envelope with its free text redacted, or `None` when nothing in it
/// needed to be (the common case, which costs no copy).
pub fn envelope(e: &pb::Envelope) -> Option<pb::Envelope> {
    use pb::candidacy_event::Kind;
    let Some(pb::envelope::Payload::Candidacy(c)) = &e.payload else {
        return None;
    };
    let (profile, names): (&pb::CandidateProfile, Vec<&str>) = match &c.kind {
        Some(Kind::Registered(r)) => (
            r.profile.as_ref()?,
            r.personal
                .as_ref()
                .map(|p| vec![p.given_name.as_str(), p.family_name.as_str()])
                .unwrap_or_default(),
        ),
        Some(Kind::ProfileUpdated(p)) => (p, Vec::new()),
        _ => return None,
    };
    let clean = redact_profile(profile, &names)?;
    let mut e = e.clone();
    if let Some(pb::envelope::Payload::Candidacy(c)) = &mut e.payload {
        match &mut c.kind {
            Some(Kind::Registered(r)) => r.profile = Some(clean),
            Some(Kind::ProfileUpdated(p)) => *p = clean,
            _ => {}
        }
    }
    Some(e)
}

fn redact_profile(p: &pb::CandidateProfile, names: &[&str]) -> Option<pb::CandidateProfile> {
    let summary = text(&p.summary, names);
    let descriptions: Vec<Option<String>> = p
        .experience
        .iter()
        .map(|x| text(&x.description, names))
        .collect();
    if summary.is_none() && descriptions.iter().all(Option::is_none) {
        return None;
    }
    let mut clean = p.clone();
    if let Some(s) = summary {
        clean.summary = s;
    }
    for (x, d) in clean.experience.iter_mut().zip(descriptions) {
        if let Some(d) = d {
            x.description = d;
        }
    }
    Some(clean)
}

/// A word without the punctuation around it (an e-mail's `@` and a phone's
/// leading `+` stay).
fn trim(w: &str) -> &str {
    w.trim_matches(|c: char| !c.is_alphanumeric() && c != '+' && c != '@')
}

/// `s` with its identifiers replaced, or `None` when it holds none.
pub fn text(s: &str, names: &[&str]) -> Option<String> {
    // E-mails hold an @, phones and codici fiscali digits: most text holds
    // neither, and is let through without splitting it.
    if names.is_empty() && !s.bytes().any(|b| b == b'@' || b.is_ascii_digit()) {
        return None;
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut hidden = vec![false; words.len()];
    let folded_names: Vec<String> = names
        .iter()
        .flat_map(|n| n.split_whitespace())
        .filter(|n| n.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    for (i, w) in words.iter().enumerate() {
        let core = trim(w);
        let is_email = core.contains('@') && core.contains('.');
        let is_code = core.len() == 16 && CodiceFiscale::parse(core).is_ok();
        let core_lower = core.to_lowercase();
        let is_name = folded_names
            .iter()
            .any(|n| core_lower == *n || core_lower.strip_suffix("'s").is_some_and(|c| c == n));
        hidden[i] = is_email || is_code || is_name;
    }
    // A phone number: a run of words made of digits and + - . ( ) / that
    // holds at least 8 digits in all ("+39 011 555 0199", "333-1234567").
    let phoney = |w: &str| {
        !w.is_empty()
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars()
                .all(|c| c.is_ascii_digit() || "+-.()/".contains(c))
    };
    let mut i = 0;
    while i < words.len() {
        if !phoney(trim(words[i])) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = 0;
        while i < words.len() && phoney(trim(words[i])) {
            digits += trim(words[i]).chars().filter(char::is_ascii_digit).count();
            i += 1;
        }
        if digits >= 8 {
            hidden[start..i].iter_mut().for_each(|h| *h = true);
        }
    }
    if !hidden.iter().any(|h| *h) {
        return None;
    }
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (w, h) in words.iter().zip(&hidden) {
        match (h, out.last()) {
            (true, Some(&REDACTED)) => {}
            (true, _) => out.push(REDACTED),
            (false, _) => out.push(w),
        }
    }
    Some(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_go_and_the_work_stays() {
        let s = "Mi chiamo Zenobia Quaglieri, scrivetemi a zenobia.q@example.org o al +39 011 555 0199. \
                 Codice RSSMRA85T10A562S. Cuoca con 10 anni di esperienza, HACCP dal 2015.";
        let clean = text(s, &["Zenobia", "Quaglieri"]).expect("redacted");
        for gone in [
            "Zenobia",
            "Quaglieri",
            "zenobia.q@example.org",
            "555",
            "RSSMRA85T10A562S",
        ] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        for kept in ["Cuoca", "10 anni", "HACCP", "2015."] {
            assert!(clean.contains(kept), "{kept} lost from {clean}");
        }
        assert_eq!(text("Saldatore TIG, patente C.", &["Mario"]), None);
        // Short numbers are not phones; a year is not a phone.
        assert_eq!(text("Turni 6-14, dal 2019, 40 ore", &[]), None);
    }

    #[test]
    fn a_profile_update_loses_contacts_and_a_registration_also_the_names() {
        let profile = pb::CandidateProfile {
            summary: "Zenobia, cell. 333-1234567".into(),
            experience: vec![pb::WorkExperience {
                description: "Contatti: z@q.it".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let update = pb::Envelope {
            payload: Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
                kind: Some(pb::candidacy_event::Kind::ProfileUpdated(profile.clone())),
            })),
            ..Default::default()
        };
        let Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
            kind: Some(pb::candidacy_event::Kind::ProfileUpdated(clean)),
        })) = envelope(&update).expect("redacted").payload
        else {
            panic!("not an update")
        };
        assert_eq!(clean.summary, format!("Zenobia, cell. {REDACTED}"));
        assert_eq!(
            clean.experience[0].description,
            format!("Contatti: {REDACTED}")
        );
        let registration = pb::Envelope {
            payload: Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
                kind: Some(pb::candidacy_event::Kind::Registered(
                    pb::CandidacyRegistered {
                        personal: Some(pb::PersonalData {
                            given_name: "Zenobia".into(),
                            ..Default::default()
                        }),
                        profile: Some(profile),
                        ..Default::default()
                    },
                )),
            })),
            ..Default::default()
        };
        let redacted = envelope(&registration).expect("redacted");
        let text = format!("{redacted:?}");
        assert_eq!(
            text.matches("Zenobia").count(),
            1,
            "only the sealed field: {text}"
        );
    }
}
