//! Who may do what: the roles, which RPCs each may call, and the scope
//! that restricts what an allowed call reads. Decided here and nowhere
//! else; the server asks this module before it reads anything, and
//! `docs/SECURITY.md` prints the same table.
//!
//! | role | may call | scope |
//! |---|---|---|
//! | `operator` | SearchVacancies, MatchCandidates, MatchVacancies, Explain, GetIssuedList, VerifyIssuedList | vacancies handled by one of their CPI; people registered at one of their CPI; personal data of the candidates on a list they ask for; no L.68/99 data |
//! | `collocamento_mirato` | as `operator` | as `operator`, plus reserved-quota (L.68/99) vacancies and matches |
//! | `portal` | SearchVacancies, MatchVacancies, Explain, GetIssuedList, VerifyIssuedList (its own matches) | the citizen the token's subject names (their codice fiscale), nobody else; no personal data; no L.68/99 matches |
//! | `hub` | SearchVacancies, MatchCandidates, Explain, GetIssuedList, VerifyIssuedList | every vacancy of the region but reserved-quota ones; personal data of the candidates on its lists |
//! | `observatory` | GetOutcomes, GetStatus | aggregates only |
//! | `producer` | Ingest | none |
//! | `admin` | GetStatus (with digest), GetOutcomes, GetAccessLog, ErasePerson, GetIssuedList, VerifyIssuedList | aggregates, the access log, erasure, every issued list |
//!
//! A scope restricts what a list visits, before scoring: a caller who may
//! not see L.68/99 data gets lists of vacancies judged as if the person
//! held no L.68/99 category (reserved-quota vacancies are never visited),
//! and a list of candidates for a reserved-quota vacancy is refused.

use std::collections::BTreeSet;

use serde::Deserialize;

/// A role a token's claims map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Listed first: when a principal holds several roles, a call is
    /// allowed under the first that allows it, and this one sees most.
    CollocamentoMirato,
    Operator,
    Hub,
    Portal,
    Observatory,
    Admin,
    Producer,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::CollocamentoMirato,
        Role::Operator,
        Role::Hub,
        Role::Portal,
        Role::Observatory,
        Role::Admin,
        Role::Producer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::CollocamentoMirato => "collocamento_mirato",
            Role::Portal => "portal",
            Role::Hub => "hub",
            Role::Observatory => "observatory",
            Role::Producer => "producer",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether the role reads data of people it must have a purpose for.
    fn needs_purpose(self) -> bool {
        matches!(self, Role::Operator | Role::CollocamentoMirato | Role::Hub)
    }

    fn sees_reserved_quota(self) -> bool {
        self == Role::CollocamentoMirato
    }

    fn may_release_personal_data(self) -> bool {
        matches!(self, Role::Operator | Role::CollocamentoMirato | Role::Hub)
    }
}

/// The RPCs of `MatchService`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rpc {
    SearchVacancies,
    MatchCandidates,
    MatchVacancies,
    Explain,
    Ingest,
    GetStatus,
    GetOutcomes,
    GetAccessLog,
    ErasePerson,
    GetIssuedList,
    VerifyIssuedList,
}

impl Rpc {
    pub const ALL: [Rpc; 11] = [
        Rpc::SearchVacancies,
        Rpc::MatchCandidates,
        Rpc::MatchVacancies,
        Rpc::Explain,
        Rpc::Ingest,
        Rpc::GetStatus,
        Rpc::GetOutcomes,
        Rpc::GetAccessLog,
        Rpc::ErasePerson,
        Rpc::GetIssuedList,
        Rpc::VerifyIssuedList,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rpc::SearchVacancies => "SearchVacancies",
            Rpc::MatchCandidates => "MatchCandidates",
            Rpc::MatchVacancies => "MatchVacancies",
            Rpc::Explain => "Explain",
            Rpc::Ingest => "Ingest",
            Rpc::GetStatus => "GetStatus",
            Rpc::GetOutcomes => "GetOutcomes",
            Rpc::GetAccessLog => "GetAccessLog",
            Rpc::ErasePerson => "ErasePerson",
            Rpc::GetIssuedList => "GetIssuedList",
            Rpc::VerifyIssuedList => "VerifyIssuedList",
        }
    }
}

/// Which roles may call an RPC at all (the scope checks come after).
pub fn allows(role: Role, rpc: Rpc) -> bool {
    use Role as R;
    use Rpc as P;
    match rpc {
        P::SearchVacancies => matches!(
            role,
            R::Operator | R::CollocamentoMirato | R::Portal | R::Hub
        ),
        P::MatchCandidates => matches!(role, R::Operator | R::CollocamentoMirato | R::Hub),
        P::MatchVacancies => matches!(role, R::Operator | R::CollocamentoMirato | R::Portal),
        P::Explain => matches!(
            role,
            R::Operator | R::CollocamentoMirato | R::Portal | R::Hub
        ),
        P::Ingest => role == R::Producer,
        P::GetStatus => matches!(role, R::Admin | R::Observatory),
        P::GetOutcomes => matches!(role, R::Admin | R::Observatory),
        P::GetAccessLog | P::ErasePerson => role == R::Admin,
        P::GetIssuedList | P::VerifyIssuedList => matches!(
            role,
            R::Operator | R::CollocamentoMirato | R::Portal | R::Hub | R::Admin
        ),
    }
}

/// What a recorded list was about: a vacancy (a preselection list), or a
/// person (their matches).
#[derive(Debug, Clone, Copy)]
pub enum ListSubject<'a> {
    Vacancy(VacancyFacts<'a>),
    Person {
        person: PersonFacts<'a>,
        /// The signed-in citizen's own candidate id, for the portal.
        own: Option<&'a str>,
        /// The list could hold reserved-quota (L.68/99) vacancies: it was
        /// asked by a role that sees them.
        reserved_quota: bool,
    },
}

/// Why a call was refused `PERMISSION_DENIED`. Messages name the rule,
/// never a person or a value of their data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("{rpc}: not allowed for the caller's roles")]
    Rpc { rpc: &'static str },
    #[error("the vacancy is handled by a CPI outside the caller's")]
    VacancyOutOfScope,
    #[error("the person is registered at a CPI outside the caller's")]
    PersonOutOfScope,
    #[error("reserved-quota (L.68/99) vacancies: collocamento mirato operators only")]
    ReservedQuota,
    #[error("the portal answers for the signed-in person only")]
    NotSelf,
    #[error("the signed-in person has no candidacy here")]
    NoCandidacy,
    #[error("personal data: not released to the caller's roles")]
    PersonalData,
    #[error("state digest: admin only")]
    Digest,
}

/// Who is calling: the token's subject, its roles and, for CPI roles, the
/// CPI codes it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub roles: BTreeSet<Role>,
    pub cpi: Vec<String>,
    /// No authentication configured (a node on loopback only): every role,
    /// every CPI.
    pub unrestricted: bool,
}

/// What a vacancy's scope checks read.
#[derive(Debug, Clone, Copy)]
pub struct VacancyFacts<'a> {
    /// The CPI handling the vacancy (empty when the employer published it
    /// directly) and the CPI whose catchment holds its workplace: either
    /// makes it an operator's.
    pub cpi: [&'a str; 2],
    pub reserved_quota: bool,
}

/// What a person's scope checks read.
#[derive(Debug, Clone, Copy)]
pub struct PersonFacts<'a> {
    pub candidate_id: &'a str,
    pub cpi: &'a str,
}

/// What an allowed call may read beyond its answer's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// The role the call is allowed under (recorded in the access log).
    pub role: Role,
    /// Reserved-quota vacancies and L.68/99 categories may be read.
    pub reserved_quota: bool,
    /// Identifying data of the listed people may be released.
    pub personal_data: bool,
}

impl Principal {
    pub fn new(subject: &str, roles: BTreeSet<Role>, cpi: Vec<String>) -> Principal {
        Principal {
            subject: subject.to_owned(),
            roles,
            cpi,
            unrestricted: false,
        }
    }

    /// The caller of a node without authentication (loopback only).
    pub fn unrestricted() -> Principal {
        Principal {
            subject: "local".into(),
            roles: Role::ALL.into_iter().collect(),
            cpi: Vec::new(),
            unrestricted: true,
        }
    }

    /// The roles that may call `rpc`, in precedence order.
    fn roles_for(&self, rpc: Rpc) -> impl Iterator<Item = Role> + '_ {
        self.roles.iter().copied().filter(move |r| allows(*r, rpc))
    }

    /// The first role allowing `rpc`: a call scoped by nothing but the
    /// table (search, ingest, aggregates, the access log).
    pub fn may(&self, rpc: Rpc) -> Result<Role, Denied> {
        self.roles_for(rpc)
            .next()
            .ok_or(Denied::Rpc { rpc: rpc.name() })
    }

    /// The scope of a call that reads no territory-bound data (an admin's
    /// erasure, say): the first role that may make it.
    pub fn plain_scope(&self, rpc: Rpc) -> Result<Scope, Denied> {
        self.may(rpc).map(|role| self.scope(role))
    }

    /// Whether `role` may read what `cpi` handles or holds.
    fn covers(&self, role: Role, cpi: &str) -> bool {
        self.unrestricted || role == Role::Hub || self.cpi.iter().any(|c| c == cpi)
    }

    fn scope(&self, role: Role) -> Scope {
        Scope {
            role,
            reserved_quota: self.unrestricted || role.sees_reserved_quota(),
            personal_data: self.unrestricted || role.may_release_personal_data(),
        }
    }

    /// The first role's scope that `check` accepts, else the first role's
    /// refusal (or the RPC's, when no role may call it).
    fn first_scope(
        &self,
        rpc: Rpc,
        check: impl Fn(Role) -> Result<(), Denied>,
    ) -> Result<Scope, Denied> {
        let mut refusal = Denied::Rpc { rpc: rpc.name() };
        for (i, role) in self.roles_for(rpc).enumerate() {
            match check(role) {
                Ok(()) => return Ok(self.scope(role)),
                Err(e) if i == 0 => refusal = e,
                Err(_) => {}
            }
        }
        Err(refusal)
    }

    /// `MatchCandidates` for `vacancy`.
    pub fn list_for_vacancy(&self, vacancy: VacancyFacts<'_>) -> Result<Scope, Denied> {
        self.first_scope(Rpc::MatchCandidates, |role| {
            self.vacancy_check(role, vacancy)
        })
    }

    /// `MatchVacancies` for `person`; `own` is the signed-in citizen's
    /// candidate id, for the portal.
    pub fn list_for_person(
        &self,
        person: PersonFacts<'_>,
        own: Option<&str>,
    ) -> Result<Scope, Denied> {
        self.first_scope(Rpc::MatchVacancies, |role| {
            self.person_check(role, person, own)
        })
    }

    /// `GetIssuedList` or `VerifyIssuedList` of a recorded list about
    /// `subject`: the admin (the data-protection officer) any list; anyone
    /// else only a list they could ask for now.
    pub fn issued_list(&self, rpc: Rpc, subject: ListSubject<'_>) -> Result<Scope, Denied> {
        self.first_scope(rpc, |role| match (role, subject) {
            (Role::Admin, _) => Ok(()),
            (Role::Portal, ListSubject::Vacancy(_)) => Err(Denied::NotSelf),
            (_, ListSubject::Vacancy(v)) => self.vacancy_check(role, v),
            (
                _,
                ListSubject::Person {
                    person,
                    own,
                    reserved_quota,
                },
            ) => {
                if reserved_quota && !(self.unrestricted || role.sees_reserved_quota()) {
                    return Err(Denied::ReservedQuota);
                }
                self.person_check(role, person, own)
            }
        })
    }

    /// `Explain` of `vacancy` for `person`: a CPI role needs either in its
    /// catchment (a vacancy it handles, or a person it follows).
    pub fn explain(
        &self,
        vacancy: VacancyFacts<'_>,
        person: PersonFacts<'_>,
        own: Option<&str>,
    ) -> Result<Scope, Denied> {
        self.first_scope(Rpc::Explain, |role| {
            if vacancy.reserved_quota && !(self.unrestricted || role.sees_reserved_quota()) {
                return Err(Denied::ReservedQuota);
            }
            if role == Role::Portal {
                return self.person_check(role, person, own);
            }
            self.vacancy_check(role, vacancy)
                .or_else(|_| self.person_check(role, person, own))
        })
    }

    fn vacancy_check(&self, role: Role, vacancy: VacancyFacts<'_>) -> Result<(), Denied> {
        if vacancy.reserved_quota && !(self.unrestricted || role.sees_reserved_quota()) {
            return Err(Denied::ReservedQuota);
        }
        let region_wide = self.unrestricted || role == Role::Hub;
        let covered = vacancy
            .cpi
            .iter()
            .any(|cpi| !cpi.is_empty() && self.covers(role, cpi));
        if !(region_wide || covered) {
            return Err(Denied::VacancyOutOfScope);
        }
        Ok(())
    }

    fn person_check(
        &self,
        role: Role,
        person: PersonFacts<'_>,
        own: Option<&str>,
    ) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        match role {
            Role::Portal => match own {
                None => Err(Denied::NoCandidacy),
                Some(own) if own == person.candidate_id => Ok(()),
                Some(_) => Err(Denied::NotSelf),
            },
            Role::Hub => Err(Denied::PersonOutOfScope),
            _ if self.covers(role, person.cpi) => Ok(()),
            _ => Err(Denied::PersonOutOfScope),
        }
    }

    /// Whether `GetStatus` may include the state digest.
    pub fn may_read_digest(&self) -> Result<(), Denied> {
        if self.unrestricted || self.roles.contains(&Role::Admin) {
            Ok(())
        } else {
            Err(Denied::Digest)
        }
    }

    /// Whether a call under `role` must state its purpose.
    pub fn needs_purpose(&self, role: Role) -> bool {
        !self.unrestricted && role.needs_purpose()
    }

    /// The CPI a call acts for: the one the request names if the caller
    /// holds it, else the caller's first (empty for roles without CPI).
    pub fn acting_cpi(&self, requested: &str) -> String {
        if self.unrestricted || self.cpi.iter().any(|c| c == requested) {
            return requested.to_owned();
        }
        self.cpi.first().cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role], cpi: &[&str]) -> Principal {
        Principal::new(
            "op-1",
            roles.iter().copied().collect(),
            cpi.iter().map(|c| c.to_string()).collect(),
        )
    }

    const TO01: VacancyFacts<'static> = VacancyFacts {
        cpi: ["", "TO01"],
        reserved_quota: false,
    };
    const QUOTA_TO01: VacancyFacts<'static> = VacancyFacts {
        cpi: ["TO01", "TO01"],
        reserved_quota: true,
    };
    const PERSON_TO01: PersonFacts<'static> = PersonFacts {
        candidate_id: "SAP1",
        cpi: "TO01",
    };

    #[test]
    fn operators_are_held_to_their_cpi_and_kept_from_l68_data() {
        let op = principal(&[Role::Operator], &["TO01"]);
        let scope = op.list_for_vacancy(TO01).expect("own CPI");
        assert!(scope.personal_data && !scope.reserved_quota);
        assert_eq!(
            op.list_for_vacancy(VacancyFacts {
                cpi: ["", "CN01"],
                ..TO01
            }),
            Err(Denied::VacancyOutOfScope)
        );
        assert_eq!(op.list_for_vacancy(QUOTA_TO01), Err(Denied::ReservedQuota));
        let cm = principal(&[Role::CollocamentoMirato], &["TO01"]);
        assert!(cm.list_for_vacancy(QUOTA_TO01).expect("cm").reserved_quota);
        // Several roles: allowed under the one that sees most.
        let both = principal(&[Role::Operator, Role::CollocamentoMirato], &["TO01"]);
        assert_eq!(
            both.list_for_vacancy(QUOTA_TO01).map(|s| s.role),
            Ok(Role::CollocamentoMirato)
        );
    }

    #[test]
    fn the_portal_answers_for_its_own_person_only() {
        let portal = principal(&[Role::Portal], &[]);
        let scope = portal
            .list_for_person(PERSON_TO01, Some("SAP1"))
            .expect("self");
        assert!(!scope.personal_data && !scope.reserved_quota);
        assert_eq!(
            portal.list_for_person(PERSON_TO01, Some("SAP2")),
            Err(Denied::NotSelf)
        );
        assert_eq!(
            portal.list_for_person(PERSON_TO01, None),
            Err(Denied::NoCandidacy)
        );
        assert_eq!(
            portal.list_for_vacancy(TO01),
            Err(Denied::Rpc {
                rpc: "MatchCandidates"
            })
        );
    }

    #[test]
    fn only_the_table_s_roles_reach_each_rpc() {
        for role in Role::ALL {
            let p = principal(&[role], &["TO01"]);
            for rpc in Rpc::ALL {
                assert_eq!(p.may(rpc).is_ok(), allows(role, rpc), "{role:?} {rpc:?}");
            }
        }
        assert_eq!(
            principal(&[Role::Producer], &[]).may(Rpc::Ingest),
            Ok(Role::Producer)
        );
        assert!(principal(&[Role::Operator], &["TO01"])
            .may(Rpc::Ingest)
            .is_err());
    }
}
