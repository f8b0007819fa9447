//! Italian tax codes: validation, derivation and pseudonymisation.
//!
//! The *codice fiscale* is the Italian tax identification code. For a
//! natural person it is a 16-character code defined by DM 23/12/1976,
//! derived from surname, given name, date of birth, sex and place of birth
//! (the cadastral "Belfiore" code of the comune, or of the foreign country);
//! for a company it is an 11-digit number, identical to its *partita IVA*
//! (VAT number). Public employment services key every job seeker on it, so
//! this module owns:
//!
//! * parsing and validating personal codes ([`CodiceFiscale::parse`]),
//!   including *omocodia* variants;
//! * deriving a code from personal data ([`generate`]), used by the demo
//!   data generator to produce codes that pass real-world validators;
//! * validating and completing company codes ([`validate_partita_iva`],
//!   [`generate_partita_iva`]);
//! * turning a code into a keyed pseudonym ([`Pseudonymiser`]) so that the
//!   engine can link records about one person without storing who they are.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};

use crate::model::{day_from_ymd, Day, Demographics};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Why a personal or company code was rejected.
///
/// Positions are 1-based, counting as the decree does, so that an error
/// message can be read against the printed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodiceFiscaleError {
    #[error("wrong length (a personal code has 16 characters, a company code 11 digits)")]
    WrongLength,
    #[error("invalid character at position {position}")]
    InvalidCharacter { position: usize },
    #[error("invalid month (expected one of the letters ABCDEHLMPRST)")]
    InvalidMonth,
    #[error("invalid day of birth (expected 01-31, or 41-71 for women)")]
    InvalidDay,
    #[error("bad check character: expected {expected}, found {found}")]
    BadCheckCharacter { expected: char, found: char },
    #[error("invalid Belfiore code (expected a letter followed by three digits)")]
    InvalidBelfiore,
}

const LENGTH: usize = 16;

/// Month letters in calendar order; the decree skips letters that are easily
/// confused with digits or with each other on handwritten forms.
const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";

/// Letters substituted for digits 0-9 when two people would otherwise
/// receive the same code (omocodia).
const OMOCODIA_LETTERS: &[u8; 10] = b"LMNPQRSTUV";

/// 0-based indices of the digits that omocodia may replace with letters,
/// in the order the Agenzia delle Entrate replaces them (right to left).
const OMOCODIA_POSITIONS: [usize; 7] = [14, 13, 12, 10, 9, 7, 6];

/// Values of characters in odd (1-based) positions for the check character,
/// indexed by letter (A-Z); a digit is worth the same as the letter in its
/// alphabetical position (0 as A, 1 as B, ...).
const ODD_VALUES: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// What may appear at each position of a personal code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Letter,
    /// A digit, or its omocodia letter.
    Digit,
    Month,
    Check,
}

const LAYOUT: [Slot; LENGTH] = {
    use Slot::{Check, Digit, Letter, Month};
    [
        Letter, Letter, Letter, Letter, Letter, Letter, // surname, given name
        Digit, Digit, // year
        Month, Digit, Digit, // month, day (+40 for women)
        Letter, Digit, Digit, Digit, // Belfiore code
        Check,
    ]
};

/// A validated personal codice fiscale, stored uppercase without
/// surrounding whitespace.
///
/// Omocodia letters are kept as given: they are part of the person's code,
/// and the check character is computed over them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodiceFiscale(String);

impl CodiceFiscale {
    /// Parses and validates a personal code; case-insensitive, surrounding
    /// whitespace ignored.
    ///
    /// The day is checked against 01-31 (41-71 for women) only: the code
    /// carries two year digits, so 29 February cannot be told apart from an
    /// impossible date, and stricter checks would reject codes that exist.
    pub fn parse(input: &str) -> Result<CodiceFiscale, CodiceFiscaleError> {
        let normalised = input.trim().to_ascii_uppercase();
        if normalised.chars().count() != LENGTH {
            return Err(CodiceFiscaleError::WrongLength);
        }
        let bytes = normalised.as_bytes();
        // Non-ASCII characters would make byte and character positions
        // diverge; reject them before any byte-level checks.
        if let Some(index) = normalised.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(CodiceFiscaleError::InvalidCharacter {
                position: index + 1,
            });
        }
        for (index, (&byte, slot)) in bytes.iter().zip(LAYOUT).enumerate() {
            let ok = match slot {
                Slot::Letter | Slot::Check => byte.is_ascii_uppercase(),
                Slot::Digit => decode_omocodia(byte).is_some(),
                Slot::Month => MONTH_LETTERS.contains(&byte),
            };
            if !ok {
                return Err(if slot == Slot::Month {
                    CodiceFiscaleError::InvalidMonth
                } else {
                    CodiceFiscaleError::InvalidCharacter {
                        position: index + 1,
                    }
                });
            }
        }
        let day = two_digits(bytes[9], bytes[10]);
        if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
            return Err(CodiceFiscaleError::InvalidDay);
        }
        let expected = check_character(&bytes[..LENGTH - 1]);
        let found = char::from(bytes[LENGTH - 1]);
        if expected != found {
            return Err(CodiceFiscaleError::BadCheckCharacter { expected, found });
        }
        Ok(CodiceFiscale(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Day of birth, 1-31, with the +40 offset for women removed.
    pub fn birth_day_of_month(&self) -> u32 {
        let day = self.day_field();
        if day > 40 {
            day - 40
        } else {
            day
        }
    }

    /// Month of birth, 1-12.
    pub fn birth_month(&self) -> u32 {
        let letter = self.0.as_bytes()[8];
        MONTH_LETTERS
            .iter()
            .position(|&m| m == letter)
            .map_or(0, |index| index as u32 + 1)
    }

    /// Last two digits of the year of birth; the century is not encoded.
    pub fn birth_year_two_digits(&self) -> u32 {
        let bytes = self.0.as_bytes();
        two_digits(bytes[6], bytes[7])
    }

    pub fn is_female(&self) -> bool {
        self.day_field() > 40
    }

    /// Sex and birth date, for a person who was at least 15 on `on` (a job
    /// seeker: the code does not encode the century, this settles it).
    /// `None` for a birth date that does not exist.
    pub fn demographics(&self, on: Day) -> Option<Demographics> {
        let today = crate::model::year_of(on);
        let yy = self.birth_year_two_digits() as i32;
        let mut year = today - (today - yy).rem_euclid(100);
        if year > today - 15 {
            year -= 100;
        }
        Some(Demographics {
            female: self.is_female(),
            birth_day: day_from_ymd(year, self.birth_month(), self.birth_day_of_month())?,
        })
    }

    /// Belfiore code of the place of birth, with omocodia letters turned
    /// back into digits so it can be looked up in the cadastral tables.
    pub fn belfiore(&self) -> String {
        self.0.as_bytes()[11..15]
            .iter()
            .enumerate()
            .map(|(index, &byte)| {
                if index == 0 {
                    char::from(byte)
                } else {
                    decode_omocodia(byte).map_or('?', |digit| char::from(b'0' + digit))
                }
            })
            .collect()
    }

    /// Whether any digit has been replaced by an omocodia letter.
    pub fn is_omocodic(&self) -> bool {
        let bytes = self.0.as_bytes();
        OMOCODIA_POSITIONS
            .iter()
            .any(|&index| !bytes[index].is_ascii_digit())
    }

    /// The code with every omocodia letter turned back into its digit and
    /// the check character recomputed: the code the derivation rules give
    /// before any omocodia substitution.
    pub fn without_omocodia(&self) -> CodiceFiscale {
        let mut bytes = self.0.as_bytes().to_vec();
        for &index in &OMOCODIA_POSITIONS {
            if let Some(digit) = decode_omocodia(bytes[index]) {
                bytes[index] = b'0' + digit;
            }
        }
        let check = check_character(&bytes[..LENGTH - 1]);
        let mut code: String = bytes[..LENGTH - 1].iter().map(|&b| char::from(b)).collect();
        code.push(check);
        CodiceFiscale(code)
    }

    fn day_field(&self) -> u32 {
        let bytes = self.0.as_bytes();
        two_digits(bytes[9], bytes[10])
    }
}

impl fmt::Display for CodiceFiscale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CodiceFiscale {
    type Err = CodiceFiscaleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CodiceFiscale::parse(s)
    }
}

impl TryFrom<String> for CodiceFiscale {
    type Error = CodiceFiscaleError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        CodiceFiscale::parse(&value)
    }
}

impl From<CodiceFiscale> for String {
    fn from(cf: CodiceFiscale) -> String {
        cf.0
    }
}

impl AsRef<str> for CodiceFiscale {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Derives the personal code from personal data, per DM 23/12/1976,
/// without omocodia (which only the Agenzia delle Entrate can assign, since
/// it depends on which codes have already been issued).
///
/// Names are folded to unaccented uppercase letters; apostrophes, spaces,
/// hyphens and anything else that is not a letter are dropped. Only the
/// last two digits of `birth_year` are encoded. `birth_month` is 1-12 and
/// `birth_day` must exist in that month and year.
pub fn generate(
    family_name: &str,
    given_name: &str,
    birth_year: i32,
    birth_month: u32,
    birth_day: u32,
    female: bool,
    belfiore: &str,
) -> Result<CodiceFiscale, CodiceFiscaleError> {
    let month_index = birth_month
        .checked_sub(1)
        .filter(|&index| index < 12)
        .ok_or(CodiceFiscaleError::InvalidMonth)? as usize;
    if birth_day == 0 || birth_day > days_in_month(birth_year, birth_month) {
        return Err(CodiceFiscaleError::InvalidDay);
    }
    let belfiore = belfiore.trim().to_ascii_uppercase();
    let belfiore_bytes = belfiore.as_bytes();
    if belfiore_bytes.len() != 4
        || !belfiore_bytes[0].is_ascii_uppercase()
        || !belfiore_bytes[1..].iter().all(u8::is_ascii_digit)
    {
        return Err(CodiceFiscaleError::InvalidBelfiore);
    }

    let mut code = String::with_capacity(LENGTH);
    code.push_str(&family_name_part(family_name));
    code.push_str(&given_name_part(given_name));
    code.push_str(&format!("{:02}", birth_year.rem_euclid(100)));
    code.push(char::from(MONTH_LETTERS[month_index]));
    let day_field = if female { birth_day + 40 } else { birth_day };
    code.push_str(&format!("{day_field:02}"));
    code.push_str(&belfiore);
    code.push(check_character(code.as_bytes()));
    // Parsing our own output guards against the derivation and the
    // validator ever drifting apart.
    CodiceFiscale::parse(&code)
}

/// Validates a company codice fiscale / partita IVA (11 digits, the last a
/// Luhn-style check digit); returns it without surrounding whitespace.
pub fn validate_partita_iva(input: &str) -> Result<String, CodiceFiscaleError> {
    let trimmed = input.trim();
    if trimmed.chars().count() != 11 {
        return Err(CodiceFiscaleError::WrongLength);
    }
    if let Some(index) = trimmed.chars().position(|c| !c.is_ascii_digit()) {
        return Err(CodiceFiscaleError::InvalidCharacter {
            position: index + 1,
        });
    }
    let bytes = trimmed.as_bytes();
    let expected = partita_iva_check_digit(&bytes[..10]);
    let found = char::from(bytes[10]);
    if expected != found {
        return Err(CodiceFiscaleError::BadCheckCharacter { expected, found });
    }
    Ok(trimmed.to_owned())
}

/// Completes a partita IVA by appending the check digit to the given ten
/// digits (zero-padded on the left). Only the last ten decimal digits of
/// `first_ten_digits` are used, so any `u64` yields a well-formed number.
pub fn generate_partita_iva(first_ten_digits: u64) -> String {
    let mut digits = format!("{:010}", first_ten_digits % 10_000_000_000);
    let check = partita_iva_check_digit(digits.as_bytes());
    digits.push(check);
    digits
}

/// Maps codici fiscali to stable pseudonyms under a secret key.
///
/// The pseudonym is keyed (HMAC-SHA256) rather than a plain hash because a
/// codice fiscale is derived from guessable data, not random: anyone who
/// knows a person's name, birth date and comune can compute their code and
/// look its hash up, and enumerating common name letters, dates and the few
/// thousand Belfiore codes is within reach of ordinary hardware. An
/// unkeyed hash would therefore be reversible by enumeration. Without the
/// key, enumeration is useless; with the key kept away from whoever reads
/// the pseudonyms, records can be linked to each other but not to people.
///
/// The code is hashed exactly as issued, omocodia included: the Agenzia
/// delle Entrate assigns an omocodic code precisely because two *different*
/// people derived the same base code, so decoding it would merge them.
///
/// Deliberately not `Debug`: the key must not end up in logs.
#[derive(Clone)]
pub struct Pseudonymiser {
    key: Vec<u8>,
}

type HmacSha256 = Hmac<Sha256>;

impl Pseudonymiser {
    /// `key` should be at least 32 random bytes and kept secret: anyone
    /// holding it can re-identify pseudonyms by enumeration.
    pub fn new(key: &[u8]) -> Self {
        Pseudonymiser { key: key.to_vec() }
    }

    /// `"p"` followed by the first 24 hex characters (96 bits) of
    /// HMAC-SHA256 of the code as issued; 96 bits keeps
    /// accidental collisions negligible for any national population while
    /// staying short enough for logs and CSV exports.
    pub fn pseudonym(&self, cf: &CodiceFiscale) -> String {
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            // HMAC hashes or pads keys of any length (RFC 2104), so the
            // length error in this signature is never produced.
            Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
        };
        mac.update(cf.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("p{}", hex::encode(&digest[..12]))
    }
}

impl fmt::Debug for Pseudonymiser {
    // The key must never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The digit a byte stands for in a digit slot, whether written as a digit
/// or as its omocodia letter.
fn decode_omocodia(byte: u8) -> Option<u8> {
    if byte.is_ascii_digit() {
        return Some(byte - b'0');
    }
    OMOCODIA_LETTERS
        .iter()
        .position(|&letter| letter == byte)
        .map(|digit| digit as u8)
}

/// Numeric value of two digit slots; callers have already validated them.
fn two_digits(tens: u8, units: u8) -> u32 {
    let tens = decode_omocodia(tens).unwrap_or(0);
    let units = decode_omocodia(units).unwrap_or(0);
    u32::from(tens) * 10 + u32::from(units)
}

/// Check character over the first 15 characters (uppercase ASCII
/// alphanumerics); positions counted from 1, odd and even use different
/// tables.
fn check_character(first_fifteen: &[u8]) -> char {
    let sum: u32 = first_fifteen
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            let ordinal = if byte.is_ascii_digit() {
                byte - b'0'
            } else {
                byte.wrapping_sub(b'A') % 26
            };
            if index % 2 == 0 {
                ODD_VALUES[usize::from(ordinal)]
            } else {
                u32::from(ordinal)
            }
        })
        .sum();
    // sum % 26 < 26, so the addition stays within 'A'..='Z'.
    char::from(b'A' + (sum % 26) as u8)
}

fn partita_iva_check_digit(first_ten: &[u8]) -> char {
    let sum: u32 = first_ten
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            let digit = u32::from(byte - b'0');
            if index % 2 == 0 {
                digit
            } else {
                let doubled = digit * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Uppercase unaccented letters of a name, in order. Letters outside the
/// Latin alphabet are dropped rather than guessed at; the Agenzia
/// transliterates such names before deriving a code.
fn name_letters(name: &str) -> Vec<u8> {
    let mut letters = Vec::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_uppercase) {
        let folded: &[u8] = match c {
            'A'..='Z' => {
                letters.push(c as u8);
                continue;
            }
            'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => b"A",
            'Æ' => b"AE",
            'Ç' | 'Ć' | 'Ĉ' | 'Č' => b"C",
            'Ď' | 'Đ' => b"D",
            'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => b"E",
            'Ğ' | 'Ģ' => b"G",
            'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'Į' | 'İ' => b"I",
            'Ķ' => b"K",
            'Ĺ' | 'Ļ' | 'Ľ' | 'Ł' => b"L",
            'Ñ' | 'Ń' | 'Ņ' | 'Ň' => b"N",
            'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => b"O",
            'Œ' => b"OE",
            'Ŕ' | 'Ř' => b"R",
            'Ś' | 'Ş' | 'Š' | 'Ș' => b"S",
            'Ţ' | 'Ť' | 'Ț' => b"T",
            'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' | 'Ų' => b"U",
            'Ý' | 'Ÿ' => b"Y",
            'Ź' | 'Ż' | 'Ž' => b"Z",
            _ => b"",
        };
        letters.extend_from_slice(folded);
    }
    letters
}

fn is_vowel(letter: u8) -> bool {
    matches!(letter, b'A' | b'E' | b'I' | b'O' | b'U')
}

/// Consonants then vowels then X padding, first three: the surname rule.
fn consonants_vowels_padding(consonants: &[u8], vowels: &[u8]) -> String {
    consonants
        .iter()
        .chain(vowels)
        .chain(b"XXX")
        .take(3)
        .map(|&b| char::from(b))
        .collect()
}

fn split_letters(name: &str) -> (Vec<u8>, Vec<u8>) {
    name_letters(name).into_iter().partition(|&l| !is_vowel(l))
}

fn family_name_part(family_name: &str) -> String {
    let (consonants, vowels) = split_letters(family_name);
    consonants_vowels_padding(&consonants, &vowels)
}

fn given_name_part(given_name: &str) -> String {
    let (consonants, vowels) = split_letters(given_name);
    if consonants.len() >= 4 {
        // Skipping the second consonant spreads the code over the name,
        // making codes of people sharing a surname differ more often.
        [consonants[0], consonants[2], consonants[3]]
            .iter()
            .map(|&b| char::from(b))
            .collect()
    } else {
        consonants_vowels_padding(&consonants, &vowels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demographics_settle_the_century_for_a_job_seeker() {
        let on = crate::model::day_from_ymd(2026, 12, 6).unwrap();
        // RSSMRA85T10A562S: male, born 10/12/1985.
        let d = CodiceFiscale::parse("RSSMRA85T10A562S")
            .unwrap()
            .demographics(on)
            .unwrap();
        assert!(!d.female);
        assert_eq!(
            d.birth_day,
            crate::model::day_from_ymd(1985, 12, 10).unwrap()
        );
        assert_eq!(d.age_on(on), Some(40), "the birthday is four days away");
        // Born in '15: eleven in 2026 is no job seeker, so 1915.
        let cf = generate("Bianchi", "Anna", 2015, 3, 1, true, "L219").unwrap();
        let d = cf.demographics(on).unwrap();
        assert!(d.female);
        assert_eq!(crate::model::year_of(d.birth_day), 1915);
    }
    use proptest::prelude::*;

    const MARIO_ROSSI: &str = "RSSMRA85T10A562S";

    /// Replaces the digit at 0-based `index` with its omocodia letter and
    /// recomputes the check character, as the Agenzia does.
    fn omocodic(code: &str, indices: &[usize]) -> String {
        let mut bytes = code.as_bytes().to_vec();
        for &index in indices {
            bytes[index] = OMOCODIA_LETTERS[usize::from(bytes[index] - b'0')];
        }
        bytes[15] = check_character(&bytes[..15]) as u8;
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn parses_published_example() {
        let cf = CodiceFiscale::parse(MARIO_ROSSI).unwrap();
        assert_eq!(cf.as_str(), MARIO_ROSSI);
        assert_eq!(cf.to_string(), MARIO_ROSSI);
        assert_eq!(cf.birth_day_of_month(), 10);
        assert_eq!(cf.birth_month(), 12);
        assert_eq!(cf.birth_year_two_digits(), 85);
        assert!(!cf.is_female());
        assert_eq!(cf.belfiore(), "A562");
        assert!(!cf.is_omocodic());
    }

    #[test]
    fn generate_reproduces_published_example() {
        let cf = generate("Rossi", "Mario", 1985, 12, 10, false, "A562").unwrap();
        assert_eq!(cf.as_str(), MARIO_ROSSI);
    }

    // Check characters below were computed independently (Python script
    // implementing the DM 23/12/1976 tables) before being written here.

    #[test]
    fn generate_female_adds_forty_to_day() {
        let cf = generate("Rossi", "Maria", 1985, 12, 10, true, "A562").unwrap();
        assert_eq!(cf.as_str(), "RSSMRA85T50A562W");
        assert!(cf.is_female());
        assert_eq!(cf.birth_day_of_month(), 10);
    }

    #[test]
    fn generate_name_rules() {
        // Short surname padded with X; given name with four or more
        // consonants takes the first, third and fourth (G-N-F-R-N-C).
        let cf = generate("Fo", "Gianfranco", 2001, 1, 1, false, "F205").unwrap();
        assert_eq!(cf.as_str(), "FOXGFR01A01F205K");
        // Accents, apostrophes and spaces are dropped; the given name with
        // fewer than four consonants falls back to vowels.
        let cf = generate("Bianchì", "Lùca", 1970, 8, 1, true, "h501").unwrap();
        assert_eq!(cf.as_str(), "BNCLCU70M41H501J");
        assert_eq!(
            &generate("D'Alembert", "Ugo", 1990, 5, 5, false, "Z110")
                .unwrap()
                .as_str()[..6],
            "DLMGUO"
        );
        assert_eq!(
            &generate("De Luca", "Niccolò", 1990, 5, 5, false, "Z110")
                .unwrap()
                .as_str()[..6],
            "DLCNCL"
        );
        assert_eq!(
            &generate("", "Yu", 1990, 5, 5, false, "Z110")
                .unwrap()
                .as_str()[..6],
            "XXXYUX"
        );
    }

    #[test]
    fn generate_rejects_bad_input() {
        let ok = |m, d| generate("Rossi", "Mario", 2023, m, d, false, "A562");
        assert_eq!(ok(0, 1), Err(CodiceFiscaleError::InvalidMonth));
        assert_eq!(ok(13, 1), Err(CodiceFiscaleError::InvalidMonth));
        assert_eq!(ok(1, 0), Err(CodiceFiscaleError::InvalidDay));
        assert_eq!(ok(4, 31), Err(CodiceFiscaleError::InvalidDay));
        assert_eq!(ok(2, 29), Err(CodiceFiscaleError::InvalidDay));
        assert!(generate("Rossi", "Mario", 2024, 2, 29, false, "A562").is_ok());
        for bad in ["A56", "A5622", "5562", "AB62", "A5L2", ""] {
            assert_eq!(
                generate("Rossi", "Mario", 1985, 12, 10, false, bad),
                Err(CodiceFiscaleError::InvalidBelfiore),
                "{bad}"
            );
        }
    }

    #[test]
    fn lowercase_and_whitespace_are_normalised() {
        let cf = CodiceFiscale::parse("  rssmra85t10a562s\n").unwrap();
        assert_eq!(cf.as_str(), MARIO_ROSSI);
        let cf: CodiceFiscale = "RssMra85T10a562s".parse().unwrap();
        assert_eq!(cf.as_str(), MARIO_ROSSI);
    }

    #[test]
    fn omocodic_variant_validates_and_has_its_own_pseudonym() {
        // Last digit 2 becomes N; check character recomputed (H).
        let variant = omocodic(MARIO_ROSSI, &[14]);
        assert_eq!(variant, "RSSMRA85T10A56NH");
        let cf = CodiceFiscale::parse(&variant).unwrap();
        assert!(cf.is_omocodic());
        assert_eq!(cf.belfiore(), "A562");
        assert_eq!(cf.without_omocodia().as_str(), MARIO_ROSSI);

        let double = CodiceFiscale::parse("RSSMRA85T10A5SNT").unwrap();
        assert_eq!(double.belfiore(), "A562");

        // Every omocodia position at once, including the day.
        let all = CodiceFiscale::parse(&omocodic(MARIO_ROSSI, &OMOCODIA_POSITIONS)).unwrap();
        assert_eq!(&all.as_str()[6..15], "URTMLARSN");
        assert_eq!(all.birth_day_of_month(), 10);
        assert_eq!(all.birth_year_two_digits(), 85);

        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let base = CodiceFiscale::parse(MARIO_ROSSI).unwrap();
        // Omocodic codes belong to other people than the base code.
        assert_ne!(p.pseudonym(&cf), p.pseudonym(&base));
        assert_ne!(p.pseudonym(&double), p.pseudonym(&base));
        assert_ne!(p.pseudonym(&all), p.pseudonym(&base));
    }

    #[test]
    fn pseudonym_shape_and_keying() {
        let base = CodiceFiscale::parse(MARIO_ROSSI).unwrap();
        let p = Pseudonymiser::new(b"key one");
        let pseudonym = p.pseudonym(&base);
        assert_eq!(pseudonym.len(), 25);
        assert!(pseudonym.starts_with('p'));
        assert!(pseudonym[1..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(pseudonym, p.pseudonym(&base));
        assert_ne!(pseudonym, Pseudonymiser::new(b"key two").pseudonym(&base));
        let other = CodiceFiscale::parse("RSSMRA85T50A562W").unwrap();
        assert_ne!(pseudonym, p.pseudonym(&other));

        // Independent recomputation of the documented construction.
        let mut mac = HmacSha256::new_from_slice(b"key one").unwrap();
        mac.update(MARIO_ROSSI.as_bytes());
        let digest = hex::encode(mac.finalize().into_bytes());
        assert_eq!(pseudonym, format!("p{}", &digest[..24]));

        assert!(!format!("{p:?}").contains("key one"));
        // Empty and over-long keys are accepted.
        let _ = Pseudonymiser::new(b"").pseudonym(&base);
        let _ = Pseudonymiser::new(&[7u8; 200]).pseudonym(&base);
    }

    #[test]
    fn wrong_length() {
        for input in [
            "",
            "RSSMRA85T10A562",
            "RSSMRA85T10A562SX",
            "RSSMRA85T10A562S S",
        ] {
            assert_eq!(
                CodiceFiscale::parse(input),
                Err(CodiceFiscaleError::WrongLength),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_character_reports_position() {
        let cases = [
            ("RSSMR485T10A562S", 6),  // digit in name letters
            ("RSSMRA8AT10A562S", 8),  // non-omocodia letter in year
            ("RSSMRA85T1OA562S", 11), // letter O is not an omocodia letter
            ("RSSMRA85T105562S", 12), // Belfiore must start with a letter
            ("RSSMRA85T10A562-", 16),
            ("RSSMRA85T10A5 2S", 14),
            ("RSSMRÀ85T10A562S", 6),  // non-ASCII, still 16 characters
            ("RSSMRA85T10A5629", 16), // check must be a letter
        ];
        for (input, position) in cases {
            assert_eq!(
                CodiceFiscale::parse(input),
                Err(CodiceFiscaleError::InvalidCharacter { position }),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_month() {
        for input in ["RSSMRA85F10A562S", "RSSMRA85Z10A562S", "RSSMRA85110A562S"] {
            assert_eq!(
                CodiceFiscale::parse(input),
                Err(CodiceFiscaleError::InvalidMonth),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_day() {
        for day in ["00", "32", "40", "72", "99", "LL"] {
            let input = format!("RSSMRA85T{day}A562S");
            assert_eq!(
                CodiceFiscale::parse(&input),
                Err(CodiceFiscaleError::InvalidDay),
                "{input}"
            );
        }
    }

    #[test]
    fn bad_check_character() {
        assert_eq!(
            CodiceFiscale::parse("RSSMRA85T10A562A"),
            Err(CodiceFiscaleError::BadCheckCharacter {
                expected: 'S',
                found: 'A'
            })
        );
        // A transposition elsewhere is caught too.
        assert!(matches!(
            CodiceFiscale::parse("SRSMRA85T10A562S"),
            Err(CodiceFiscaleError::BadCheckCharacter { .. })
        ));
    }

    #[test]
    fn serde_round_trip_validates() {
        let cf = CodiceFiscale::parse(MARIO_ROSSI).unwrap();
        let json = serde_json::to_string(&cf).unwrap();
        assert_eq!(json, format!("\"{MARIO_ROSSI}\""));
        let back: CodiceFiscale = serde_json::from_str("\"rssmra85t10a562s\"").unwrap();
        assert_eq!(back, cf);
        assert!(serde_json::from_str::<CodiceFiscale>("\"RSSMRA85T10A562A\"").is_err());
    }

    #[test]
    fn partita_iva_known_values() {
        // Check digits computed independently before being written here.
        assert_eq!(validate_partita_iva("00743110157").unwrap(), "00743110157");
        assert_eq!(
            validate_partita_iva(" 12345678903 ").unwrap(),
            "12345678903"
        );
        assert_eq!(generate_partita_iva(74_311_015), "00743110157");
        assert_eq!(generate_partita_iva(1_234_567_890), "12345678903");
        assert_eq!(generate_partita_iva(0), "00000000000");
    }

    #[test]
    fn partita_iva_errors() {
        assert_eq!(
            validate_partita_iva("00743110158"),
            Err(CodiceFiscaleError::BadCheckCharacter {
                expected: '7',
                found: '8'
            })
        );
        assert_eq!(
            validate_partita_iva("0074311015"),
            Err(CodiceFiscaleError::WrongLength)
        );
        assert_eq!(
            validate_partita_iva("0074311O157"),
            Err(CodiceFiscaleError::InvalidCharacter { position: 8 })
        );
    }

    fn name_strategy() -> impl Strategy<Value = String> {
        prop_oneof!["[A-Za-z]{0,12}", "[a-zàèéìòùç' ]{0,15}", "\\PC{0,10}",]
    }

    proptest! {
        #[test]
        fn generated_codes_parse_and_round_trip(
            family in name_strategy(),
            given in name_strategy(),
            year in 1900i32..2030,
            month in 1u32..=12,
            day in 1u32..=31,
            female: bool,
            belfiore in "[A-Za-z][0-9]{3}",
            omocodia_mask in 0u8..128,
        ) {
            let day = day.min(days_in_month(year, month));
            let cf = generate(&family, &given, year, month, day, female, &belfiore).unwrap();
            let reparsed = CodiceFiscale::parse(&cf.as_str().to_lowercase()).unwrap();
            prop_assert_eq!(&reparsed, &cf);
            prop_assert_eq!(cf.birth_day_of_month(), day);
            prop_assert_eq!(cf.birth_month(), month);
            prop_assert_eq!(cf.birth_year_two_digits() as i32, year.rem_euclid(100));
            prop_assert_eq!(cf.is_female(), female);
            prop_assert_eq!(cf.belfiore(), belfiore.to_ascii_uppercase());
            prop_assert!(!cf.is_omocodic());

            // Any subset of omocodia substitutions decodes to the same data,
            // but names another person, so gets another pseudonym.
            let indices: Vec<usize> = OMOCODIA_POSITIONS
                .iter()
                .enumerate()
                .filter(|(bit, _)| omocodia_mask & (1 << bit) != 0)
                .map(|(_, &index)| index)
                .collect();
            let variant = CodiceFiscale::parse(&omocodic(cf.as_str(), &indices)).unwrap();
            prop_assert_eq!(variant.is_omocodic(), !indices.is_empty());
            prop_assert_eq!(variant.birth_day_of_month(), day);
            prop_assert_eq!(variant.is_female(), female);
            prop_assert_eq!(variant.belfiore(), cf.belfiore());
            prop_assert_eq!(&variant.without_omocodia(), &cf);
            let p = Pseudonymiser::new(b"proptest key");
            if indices.is_empty() {
                prop_assert_eq!(p.pseudonym(&variant), p.pseudonym(&cf));
            } else {
                prop_assert_ne!(p.pseudonym(&variant), p.pseudonym(&cf));
            }
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,20}") {
            let _ = CodiceFiscale::parse(&input);
            let _ = validate_partita_iva(&input);
        }

        #[test]
        fn generated_partita_iva_validates(n: u64) {
            let piva = generate_partita_iva(n);
            prop_assert_eq!(validate_partita_iva(&piva), Ok(piva.clone()));
            // Any single-digit change in the body is caught.
            let mut bytes = piva.into_bytes();
            bytes[3] = b'0' + (bytes[3] - b'0' + 1) % 10;
            let altered = String::from_utf8(bytes).unwrap();
            let altered_is_invalid = matches!(
                validate_partita_iva(&altered),
                Err(CodiceFiscaleError::BadCheckCharacter { .. })
            );
            prop_assert!(altered_is_invalid);
        }
    }
}
