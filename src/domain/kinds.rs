//! The fixed vocabularies of the procedure: roles, concern kinds, case status, relationships.

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code stored in the database and sent in forms.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The words a person reads.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

pub(crate) use vocabulary;

vocabulary! {
    /// What a person does in Haven. Read from the database on every request.
    Role {
        Practitioner => "practitioner", "Practitioner";
        Manager => "manager", "Manager";
        Lado => "lado", "LADO";
        Admin => "admin", "Administrator";
    }
}

impl Role {
    /// LADOs and administrators must use a second factor.
    pub fn requires_second_factor(self) -> bool {
        matches!(self, Role::Lado | Role::Admin)
    }
}

vocabulary! {
    /// The kinds of online harm a referral can describe; one referral may carry several.
    ConcernKind {
        IndecentImages => "indecent_images", "Indecent images of children (an adult accessing, making, holding or sharing them)";
        Grooming => "grooming", "Online grooming or sexual communication with a child";
        HarmfulMaterial => "harmful_material", "A child exposed to pornography or other harmful material";
        Extremism => "extremism", "A child drawn towards extremist ideas online (Prevent)";
        CriminalExploitation => "criminal_exploitation", "A child drawn into gang violence or criminal exploitation online";
        Bullying => "bullying", "Online bullying";
        YouthImagery => "youth_imagery", "Nudes or semi-nudes shared by or between young people";
        IntimateImageThreats => "intimate_image_threats", "Sharing, or threatening to share, private sexual images";
        Sextortion => "sextortion", "Sextortion: a child threatened with their images unless they pay or send more";
    }
}

impl ConcernKind {
    /// A short name for lists and tags.
    pub fn short(self) -> &'static str {
        match self {
            ConcernKind::IndecentImages => "Indecent images",
            ConcernKind::Grooming => "Grooming",
            ConcernKind::HarmfulMaterial => "Harmful material",
            ConcernKind::Extremism => "Extremism",
            ConcernKind::Bullying => "Bullying",
            ConcernKind::YouthImagery => "Youth-produced imagery",
            ConcernKind::IntimateImageThreats => "Intimate image abuse",
            ConcernKind::CriminalExploitation => "Criminal exploitation",
            ConcernKind::Sextortion => "Sextortion",
        }
    }

    /// Where the procedure says the referral must go.
    pub fn route_hint(self) -> &'static str {
        match self {
            ConcernKind::IndecentImages => "Share with Police and Children's Social Care.",
            ConcernKind::Grooming => {
                "Sexual communication with a child is an offence: refer to the police (who may involve CEOP) and to Children's Social Care."
            }
            ConcernKind::HarmfulMaterial => "Refer to Children's Social Care.",
            ConcernKind::Extremism => {
                "Seek advice from your setting's Prevent lead (in a school, its single point of contact). Report terrorist material under your own name, never anonymously."
            }
            ConcernKind::Bullying => {
                "Consider whether severe bullying is abuse by another young person."
            }
            ConcernKind::YouthImagery => {
                "The child is at risk and may also be offending; police may record it as outcome 21."
            }
            ConcernKind::IntimateImageThreats => {
                "Threats to share are an offence too; involve the police."
            }
            ConcernKind::CriminalExploitation => {
                "Gang violence online is criminal exploitation, not Prevent: refer to Children's Social Care and the police."
            }
            ConcernKind::Sextortion => {
                "A crime against the child whatever the motive: involve the police. The child should not pay or send more, and the messages should be kept."
            }
        }
    }
}

vocabulary! {
    /// Where a case is in the procedure.
    CaseStatus {
        Open => "open", "Referral received";
        Strategy => "strategy", "Strategy discussion";
        Section47 => "section47", "Section 47 enquiry";
        Closed => "closed", "Closed";
    }
}

vocabulary! {
    /// How an adult is connected to the case.
    Relationship {
        Alleged => "alleged", "Person the concern is about";
        ParentCarer => "parent_carer", "Parent or carer";
        HouseholdMember => "household_member", "Other member of the household";
    }
}

vocabulary! {
    /// Whether the person the concern is about works or volunteers with children.
    WorksWithChildren {
        Yes => "yes", "Yes";
        No => "no", "No";
        Unknown => "unknown", "Not known";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for k in ConcernKind::ALL {
            assert_eq!(ConcernKind::parse(k.code()), Some(*k));
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(*r));
        }
        assert_eq!(Role::parse("superuser"), None);
        assert_eq!(ConcernKind::ALL.len(), 9);
    }

    #[test]
    fn second_factor_is_required_for_lado_and_admin_only() {
        assert!(Role::Lado.requires_second_factor());
        assert!(Role::Admin.requires_second_factor());
        assert!(!Role::Practitioner.requires_second_factor());
        assert!(!Role::Manager.requires_second_factor());
    }
}
