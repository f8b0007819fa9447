//! People and company names, places of birth and contact details.
//!
//! Owns the origin mix of job seekers (Italian-born, by region, and foreign-born, by the
//! largest national communities in Piemonte), the name pools of each origin, the cadastral
//! (Belfiore) codes the codice fiscale needs, and the building blocks of employer names.
//!
//! Belfiore codes: Italian comuni from the Agenzia delle Entrate list; foreign states from the
//! ANPR table of foreign states (codes Z...), cross-checked against a bank's country table.

use rand::Rng;

use crate::rng::pick;

/// A name pool: given names by sex and family names.
pub struct NamePool {
    pub male: &'static [&'static str],
    pub female: &'static [&'static str],
    pub family: &'static [&'static str],
}

/// A country of birth of foreign-born job seekers.
pub struct Origin {
    /// "della Romania": the country with its preposition, for notes.
    pub from: &'static str,
    pub belfiore: &'static str,
    /// Relative weight among foreign-born job seekers in Piemonte.
    pub weight: u32,
    /// Mother tongue (ISO 639-1); Italian level is drawn separately.
    pub language: &'static str,
    pub names: &'static NamePool,
}

pub static ITALIAN: NamePool = NamePool {
    male: &[
        "Marco",
        "Luca",
        "Andrea",
        "Giuseppe",
        "Francesco",
        "Alessandro",
        "Matteo",
        "Davide",
        "Stefano",
        "Roberto",
        "Paolo",
        "Giovanni",
        "Simone",
        "Federico",
        "Fabio",
        "Massimo",
        "Daniele",
        "Riccardo",
        "Lorenzo",
        "Antonio",
        "Salvatore",
        "Michele",
        "Enrico",
        "Claudio",
        "Gabriele",
        "Nicola",
        "Mattia",
        "Alberto",
        "Pietro",
        "Giorgio",
        "Vincenzo",
        "Emanuele",
        "Domenico",
        "Tommaso",
        "Franco",
        "Sergio",
        "Mauro",
        "Walter",
        "Gianluca",
        "Cristian",
        "Edoardo",
        "Filippo",
        "Leonardo",
        "Diego",
        "Ivan",
        "Piero",
        "Renato",
        "Carlo",
        "Luigi",
        "Samuele",
    ],
    female: &[
        "Giulia",
        "Francesca",
        "Chiara",
        "Sara",
        "Martina",
        "Valentina",
        "Elena",
        "Alessia",
        "Silvia",
        "Federica",
        "Laura",
        "Paola",
        "Elisa",
        "Anna",
        "Roberta",
        "Simona",
        "Monica",
        "Cristina",
        "Barbara",
        "Daniela",
        "Giorgia",
        "Alice",
        "Marta",
        "Serena",
        "Ilaria",
        "Beatrice",
        "Sofia",
        "Aurora",
        "Manuela",
        "Patrizia",
        "Rosa",
        "Maria",
        "Antonella",
        "Luisa",
        "Stefania",
        "Claudia",
        "Veronica",
        "Erika",
        "Debora",
        "Noemi",
        "Carla",
        "Lucia",
        "Emanuela",
        "Tiziana",
        "Marina",
        "Irene",
        "Camilla",
        "Arianna",
        "Nadia",
        "Loredana",
    ],
    family: &[
        "Rossi",
        "Ferrero",
        "Russo",
        "Bianchi",
        "Colombo",
        "Bruno",
        "Romano",
        "Ricci",
        "Gallo",
        "Costa",
        "Fontana",
        "Conti",
        "Esposito",
        "Marino",
        "Greco",
        "Barbero",
        "Bosio",
        "Giordano",
        "Rizzo",
        "Lombardi",
        "Moretti",
        "Martini",
        "Ferrari",
        "Mancini",
        "Villa",
        "Serra",
        "Cavallo",
        "Caruso",
        "Fabbri",
        "Pellegrini",
        "Marchetti",
        "Gatti",
        "Testa",
        "Grasso",
        "Ferraris",
        "Bertolino",
        "Gribaudo",
        "Perotti",
        "Aimar",
        "Bertola",
        "Cravero",
        "Allasia",
        "Ghione",
        "Operti",
        "Rosso",
        "Bonino",
        "Olivero",
        "Fiore",
        "Sacco",
        "Vacchetta",
        "Botta",
        "Chiapello",
        "Giraudo",
        "Dalmasso",
        "Garelli",
        "Musso",
        "Viberti",
        "Rinaldi",
        "Lanza",
        "Vigna",
        "Bellino",
        "Actis",
        "Borgogno",
        "Pautasso",
        "Audisio",
        "Rabino",
        "Boero",
        "Arnaudo",
        "Quaglia",
        "Canale",
        "Coppola",
        "De Luca",
        "D'Angelo",
        "La Rosa",
        "Messina",
        "Amato",
        "Santoro",
        "Palumbo",
        "Longo",
        "Leone",
        "Mazza",
        "Sorrentino",
        "Vitale",
        "Calabrese",
        "Parisi",
        "Pace",
        "Cirillo",
        "Barone",
        "Catalano",
        "Di Stefano",
        "Caputo",
        "Ferro",
        "Marra",
        "Gentile",
        "Bergamasco",
        "Cerutti",
        "Borello",
        "Revelli",
        "Fassino",
        "Manfredi",
        "Valsania",
        "Tosco",
        "Peano",
        "Bottero",
        "Ravera",
        "Tealdi",
        "Molinari",
        "Sartori",
        "Zanetti",
        "Mossino",
        "Grosso",
        "Marengo",
        "Piras",
        "Zappalà",
        "Lo Presti",
        "Scarpa",
        "Morra",
        "Gili",
        "Ruffino",
        "Bussone",
    ],
};

static ROMANIAN: NamePool = NamePool {
    male: &[
        "Ion",
        "Andrei",
        "Mihai",
        "Alexandru",
        "Florin",
        "Gheorghe",
        "Constantin",
        "Adrian",
        "Daniel",
        "Marius",
        "Cristian",
        "Vasile",
        "Ionut",
        "Bogdan",
        "Nicolae",
        "Sorin",
        "Valentin",
        "Dumitru",
        "Ciprian",
        "Costel",
    ],
    female: &[
        "Maria",
        "Elena",
        "Ioana",
        "Andreea",
        "Mihaela",
        "Gabriela",
        "Alina",
        "Cristina",
        "Florentina",
        "Daniela",
        "Roxana",
        "Simona",
        "Ramona",
        "Georgiana",
        "Larisa",
        "Loredana",
        "Nicoleta",
        "Adriana",
        "Lavinia",
        "Corina",
    ],
    family: &[
        "Popescu",
        "Ionescu",
        "Popa",
        "Pop",
        "Radu",
        "Dumitru",
        "Stan",
        "Stoica",
        "Gheorghe",
        "Matei",
        "Ciobanu",
        "Rusu",
        "Munteanu",
        "Constantin",
        "Marin",
        "Lungu",
        "Ursu",
        "Moldovan",
        "Tudor",
        "Florea",
        "Ceban",
        "Rotaru",
        "Vasilescu",
        "Dinu",
        "Barbu",
        "Neagu",
        "Cojocaru",
        "Sandu",
        "Mocanu",
        "Iordache",
    ],
};

static ARABIC: NamePool = NamePool {
    male: &[
        "Mohamed", "Ahmed", "Youssef", "Hassan", "Said", "Mustapha", "Abdellah", "Rachid", "Karim",
        "Omar", "Hamza", "Ali", "Khalid", "Samir", "Mehdi", "Nabil", "Anas", "Yassine",
    ],
    female: &[
        "Fatima", "Khadija", "Aicha", "Naima", "Samira", "Salma", "Meryem", "Nadia", "Zineb",
        "Hanane", "Latifa", "Imane", "Sara", "Amina", "Houda", "Malika", "Nora", "Hayat",
    ],
    family: &[
        "El Amrani",
        "Benali",
        "Bouzid",
        "El Idrissi",
        "Ait Ali",
        "Alaoui",
        "Benjelloun",
        "El Khatib",
        "Haddad",
        "Mansouri",
        "Saidi",
        "Tahiri",
        "Ouali",
        "Chraibi",
        "Belkacem",
        "Zaki",
        "Mahmoud",
        "Ben Salah",
        "Trabelsi",
        "El Fassi",
        "Bennani",
        "Lahlou",
        "Naciri",
        "Hamdi",
    ],
};

static ALBANIAN: NamePool = NamePool {
    male: &[
        "Arben", "Ardit", "Besnik", "Dritan", "Elton", "Erion", "Fatmir", "Gentian", "Klodian",
        "Luan", "Marsel", "Ervin", "Fation", "Altin", "Kledi", "Sokol",
    ],
    female: &[
        "Anila", "Blerina", "Elda", "Entela", "Ervisa", "Jonida", "Klea", "Lindita", "Mirela",
        "Orjeta", "Rovena", "Valbona", "Xhulja", "Ardita", "Brunilda", "Eralda",
    ],
    family: &[
        "Hoxha", "Shehu", "Dervishi", "Leka", "Kola", "Gjoka", "Marku", "Prifti", "Rama", "Basha",
        "Cela", "Duka", "Mema", "Hysa", "Zeneli", "Gjika", "Lika", "Xhafa",
    ],
};

static CHINESE: NamePool = NamePool {
    male: &[
        "Wei", "Jian", "Hao", "Lei", "Ming", "Jun", "Tao", "Yong", "Bin", "Chao", "Qiang", "Feng",
    ],
    female: &[
        "Li", "Mei", "Yan", "Xiaoling", "Jing", "Hui", "Ying", "Fang", "Lan", "Xiu", "Yun", "Ting",
    ],
    family: &[
        "Hu", "Chen", "Wang", "Zhou", "Lin", "Zhang", "Li", "Huang", "Ye", "Wu", "Jin", "Xu",
        "Zheng", "Pan",
    ],
};

static NIGERIAN: NamePool = NamePool {
    male: &[
        "Emeka",
        "Chinedu",
        "Oluwaseun",
        "Ibrahim",
        "Samuel",
        "Daniel",
        "Godwin",
        "Kelvin",
        "Osaro",
        "Uche",
        "Festus",
        "Efosa",
    ],
    female: &[
        "Blessing", "Joy", "Grace", "Precious", "Favour", "Esther", "Ngozi", "Chioma", "Gift",
        "Mercy", "Osas", "Faith",
    ],
    family: &[
        "Okafor",
        "Okonkwo",
        "Adeyemi",
        "Eze",
        "Igbinosa",
        "Osagie",
        "Obi",
        "Nwosu",
        "Edosa",
        "Omoregie",
        "Ogbeide",
        "Uwaifo",
        "Aigbe",
        "Ehigiator",
    ],
};

static LATIN: NamePool = NamePool {
    male: &[
        "José", "Luis", "Carlos", "Juan", "Jorge", "Miguel", "Víctor", "César", "Wilson", "Edwin",
        "Fernando", "Richard",
    ],
    female: &[
        "María",
        "Rosa",
        "Carmen",
        "Ana",
        "Lucía",
        "Gladys",
        "Jessica",
        "Milagros",
        "Sonia",
        "Ruth",
        "Elizabeth",
        "Patricia",
    ],
    family: &[
        "Quispe",
        "Flores",
        "Rodríguez",
        "García",
        "Huamán",
        "Mendoza",
        "Torres",
        "Vargas",
        "Rojas",
        "Chávez",
        "Ramírez",
        "Castillo",
        "Gutiérrez",
        "Salazar",
    ],
};

static UKRAINIAN: NamePool = NamePool {
    male: &[
        "Oleksandr",
        "Andriy",
        "Serhiy",
        "Volodymyr",
        "Mykola",
        "Dmytro",
        "Yuriy",
        "Vasyl",
        "Ivan",
        "Taras",
    ],
    female: &[
        "Olena", "Natalia", "Oksana", "Iryna", "Tetiana", "Svitlana", "Halyna", "Larysa", "Yulia",
        "Mariya", "Liudmyla", "Nadiya",
    ],
    family: &[
        "Shevchenko",
        "Kovalenko",
        "Bondarenko",
        "Tkachenko",
        "Kravchenko",
        "Melnyk",
        "Boyko",
        "Kovalchuk",
        "Oliynyk",
        "Lysenko",
        "Savchenko",
        "Moroz",
    ],
};

static SENEGALESE: NamePool = NamePool {
    male: &[
        "Mamadou",
        "Moussa",
        "Ousmane",
        "Cheikh",
        "Ibrahima",
        "Abdoulaye",
        "Modou",
        "Pape",
        "Babacar",
        "Amadou",
    ],
    female: &[
        "Fatou", "Aminata", "Awa", "Mariama", "Khady", "Ndeye", "Coumba", "Astou", "Rokhaya",
        "Bineta",
    ],
    family: &[
        "Diop", "Ndiaye", "Fall", "Sow", "Diallo", "Gueye", "Sarr", "Seck", "Mbaye", "Faye", "Ba",
        "Thiam",
    ],
};

static SOUTH_ASIAN: NamePool = NamePool {
    male: &[
        "Muhammad", "Imran", "Asif", "Rahul", "Amit", "Gurpreet", "Harpreet", "Rakib", "Arif",
        "Bilal", "Sandeep", "Kamal",
    ],
    female: &[
        "Ayesha", "Fatima", "Priya", "Sunita", "Nasreen", "Rina", "Shabnam", "Kiran", "Parveen",
        "Anjali", "Harjit", "Sadia",
    ],
    family: &[
        "Khan", "Ahmed", "Hussain", "Ali", "Singh", "Kaur", "Kumar", "Sharma", "Rahman", "Hossain",
        "Islam", "Iqbal",
    ],
};

static FILIPINO: NamePool = NamePool {
    male: &[
        "Mark", "Jerome", "Rodel", "Arnel", "Ronaldo", "Jayson", "Reynaldo", "Rommel",
    ],
    female: &[
        "Maricel", "Jocelyn", "Rowena", "Marites", "Liezel", "Jennifer", "Analyn", "Cristina",
    ],
    family: &[
        "Santos",
        "Reyes",
        "Cruz",
        "Bautista",
        "Garcia",
        "Mendoza",
        "Dela Cruz",
        "Villanueva",
        "Ramos",
        "Aquino",
    ],
};

static BRAZILIAN: NamePool = NamePool {
    male: &[
        "João", "Pedro", "Lucas", "Rafael", "Thiago", "Bruno", "Gustavo", "Felipe",
    ],
    female: &[
        "Ana",
        "Juliana",
        "Fernanda",
        "Camila",
        "Patrícia",
        "Aline",
        "Bruna",
        "Tatiane",
    ],
    family: &[
        "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Ferreira", "Almeida", "Lima",
        "Carvalho",
    ],
};

/// Foreign-born job seekers by country of birth; weights follow the resident foreign
/// population of Piemonte (Romania far ahead, then Morocco and Albania).
pub static ORIGINS: &[Origin] = &[
    Origin {
        from: "della Romania",
        belfiore: "Z129",
        weight: 330,
        language: "ro",
        names: &ROMANIAN,
    },
    Origin {
        from: "del Marocco",
        belfiore: "Z330",
        weight: 140,
        language: "ar",
        names: &ARABIC,
    },
    Origin {
        from: "dell'Albania",
        belfiore: "Z100",
        weight: 110,
        language: "sq",
        names: &ALBANIAN,
    },
    Origin {
        from: "della Cina",
        belfiore: "Z210",
        weight: 45,
        language: "zh",
        names: &CHINESE,
    },
    Origin {
        from: "della Nigeria",
        belfiore: "Z335",
        weight: 50,
        language: "en",
        names: &NIGERIAN,
    },
    Origin {
        from: "del Perù",
        belfiore: "Z611",
        weight: 50,
        language: "es",
        names: &LATIN,
    },
    Origin {
        from: "della Moldavia",
        belfiore: "Z140",
        weight: 45,
        language: "ro",
        names: &ROMANIAN,
    },
    Origin {
        from: "dell'Ucraina",
        belfiore: "Z138",
        weight: 45,
        language: "uk",
        names: &UKRAINIAN,
    },
    Origin {
        from: "dell'Egitto",
        belfiore: "Z336",
        weight: 30,
        language: "ar",
        names: &ARABIC,
    },
    Origin {
        from: "del Senegal",
        belfiore: "Z343",
        weight: 30,
        language: "fr",
        names: &SENEGALESE,
    },
    Origin {
        from: "della Tunisia",
        belfiore: "Z352",
        weight: 20,
        language: "ar",
        names: &ARABIC,
    },
    Origin {
        from: "dell'Ecuador",
        belfiore: "Z605",
        weight: 20,
        language: "es",
        names: &LATIN,
    },
    Origin {
        from: "del Pakistan",
        belfiore: "Z236",
        weight: 20,
        language: "ur",
        names: &SOUTH_ASIAN,
    },
    Origin {
        from: "dell'India",
        belfiore: "Z222",
        weight: 20,
        language: "hi",
        names: &SOUTH_ASIAN,
    },
    Origin {
        from: "del Bangladesh",
        belfiore: "Z249",
        weight: 10,
        language: "bn",
        names: &SOUTH_ASIAN,
    },
    Origin {
        from: "delle Filippine",
        belfiore: "Z216",
        weight: 15,
        language: "tl",
        names: &FILIPINO,
    },
    Origin {
        from: "del Brasile",
        belfiore: "Z602",
        weight: 20,
        language: "pt",
        names: &BRAZILIAN,
    },
];

/// Birth places of Piemonte-born people: hospitals sit in the provincial capitals and a few
/// large towns, so these cover most births. (province, belfiore, weight).
pub static PIEMONTE_BIRTHPLACES: &[(&str, &str, u32)] = &[
    ("TO", "L219", 60),
    ("TO", "F335", 6),
    ("TO", "H355", 6),
    ("TO", "E379", 5),
    ("TO", "G674", 5),
    ("CN", "D205", 10),
    ("CN", "A124", 4),
    ("AT", "A479", 10),
    ("AL", "A182", 10),
    ("AL", "B885", 4),
    ("NO", "F952", 10),
    ("VC", "L750", 10),
    ("BI", "A859", 10),
    ("VB", "L746", 10),
];

/// Birth places of people who moved to Piemonte from elsewhere in Italy (mostly the South,
/// the great migration of the 1950s-70s and later). (belfiore, weight).
pub static ITALIAN_BIRTHPLACES: &[(&str, u32)] = &[
    ("F839", 10), // Napoli
    ("G273", 10), // Palermo
    ("A662", 7),  // Bari
    ("H224", 7),  // Reggio Calabria
    ("C351", 7),  // Catania
    ("D643", 6),  // Foggia
    ("D086", 6),  // Cosenza
    ("H501", 5),  // Roma
    ("F205", 5),  // Milano
    ("D969", 4),  // Genova
];

/// Regional words used in company names.
pub static REGION_WORDS: &[&str] = &[
    "Piemonte",
    "Subalpina",
    "Alpi",
    "Langhe",
    "Monferrato",
    "Canavese",
    "Val Po",
    "Sabauda",
    "Nord Ovest",
    "Torinese",
    "Roero",
    "Valsesia",
    "Ossola",
    "Granda",
];

/// Evocative names of shops and restaurants.
pub static VENUE_WORDS: &[&str] = &[
    "Il Glicine",
    "La Pergola",
    "Del Borgo",
    "Il Castagno",
    "La Meridiana",
    "Le Tre Rose",
    "Il Porticato",
    "La Corte",
    "San Carlo",
    "Il Belvedere",
    "La Lanterna",
    "Al Mulino",
    "La Vecchia Stazione",
    "Il Gelso",
    "Sole e Luna",
    "La Bottega",
    "Il Cortile",
    "Vittoria",
];

/// Italian mobile prefixes, for well-formed fake numbers.
static MOBILE_PREFIXES: &[&str] = &[
    "320", "328", "329", "331", "333", "334", "338", "339", "340", "345", "347", "348", "349",
    "351", "366", "380", "388", "389", "392", "393",
];

static MAIL_DOMAINS: &[&str] = &["example.org", "example.com", "example.net"];

/// Lower-case ASCII letters and digits only, for e-mail local parts.
pub fn ascii_fold(s: &str) -> String {
    incontra_engine::reference::fold_to_ascii(s)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

pub fn email<R: Rng>(rng: &mut R, given: &str, family: &str) -> String {
    let g = ascii_fold(given);
    let f = ascii_fold(family);
    let domain = pick(rng, MAIL_DOMAINS);
    match rng.random_range(0..4u32) {
        0 => format!("{g}.{f}@{domain}"),
        1 => format!("{g}.{f}{}@{domain}", rng.random_range(1..100u32)),
        2 => format!("{}{f}@{domain}", g.chars().next().unwrap_or('x')),
        _ => format!("{g}{f}{}@{domain}", rng.random_range(60..100u32)),
    }
}

pub fn phone<R: Rng>(rng: &mut R) -> String {
    let prefix = pick(rng, MOBILE_PREFIXES);
    format!("+39 {prefix} {:07}", rng.random_range(0..10_000_000u32))
}
