//! The procedure's other pathways, recorded on a case beside the main path: Prevent for a child
//! drawn towards extremism, the UKCIS approach to nudes and semi-nudes shared by children, and
//! Harmful Sexual Behaviour when the person alleged to have harmed a child is a child.
//! Each is one record per case, kept as JSON and checked here.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::kinds::vocabulary;

vocabulary! {
    /// Which pathway.
    Pathway {
        Prevent => "prevent", "Prevent";
        Nudes => "nudes", "Nudes and semi-nudes shared by children";
        Hsb => "hsb", "Harmful sexual behaviour by a child";
    }
}

impl Pathway {
    /// What the pathway is for, on the case page.
    pub fn purpose(self) -> &'static str {
        match self {
            Pathway::Prevent => {
                "A child drawn towards extremist ideas online. Gang violence online is criminal exploitation instead."
            }
            Pathway::Nudes => {
                "Images shared by or between children: which triggers for an immediate referral applied, and how the police recorded it."
            }
            Pathway::Hsb => {
                "The person alleged to have harmed a child is a child: they need their own safeguarding response."
            }
        }
    }
}

vocabulary! {
    PreventReferral {
        Made => "made", "A Prevent referral was made";
        Considering => "considering", "Still being considered";
        NotMade => "not_made", "No referral: advice and support only";
    }
}

vocabulary! {
    ChannelOutcome {
        Pending => "pending", "Waiting for the Channel panel";
        Adopted => "adopted", "Adopted as a Channel case";
        NotAdopted => "not_adopted", "Not adopted; other support offered";
        NotApplicable => "not_applicable", "No Prevent referral was made";
    }
}

vocabulary! {
    MaterialReported {
        Yes => "yes", "Yes, by a named person";
        No => "no", "Not yet";
        NoneFound => "none_found", "No terrorist material was found";
    }
}

/// The Prevent record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prevent {
    pub lead: String,
    pub advice: String,
    pub referral: String,
    pub referral_on: Option<NaiveDate>,
    pub referral_reference: String,
    pub channel: String,
    pub material: String,
    pub reported_by: String,
    pub reported_to: String,
}

vocabulary! {
    /// The UKCIS triggers for referring to the police and children's social care at once.
    NudesTrigger {
        Adult => "adult", "An adult is involved";
        Coercion => "coercion", "Coercion, blackmail or grooming";
        Unusual => "unusual", "Acts unusual for the child's development";
        Violence => "violence", "Violent acts";
        Under13 => "under_13", "A child in the images is under 13";
        ImmediateHarm => "immediate_harm", "A child is at immediate risk of harm because of the sharing (for example, self-harm)";
    }
}

vocabulary! {
    PoliceRecord {
        Outcome21 => "outcome_21", "Recorded as a crime with outcome 21 (no formal action in the public interest)";
        OtherOutcome => "other_outcome", "Recorded with another outcome";
        Pending => "pending", "Reported; the police have not decided";
        NotReported => "not_reported", "Not reported to the police";
    }
}

/// The record for nudes and semi-nudes shared by children.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Nudes {
    pub triggers: Vec<String>,
    pub police: String,
    pub police_reference: String,
    pub notes: String,
}

impl Nudes {
    pub fn adult_involved(&self) -> bool {
        self.triggers
            .iter()
            .any(|t| t == NudesTrigger::Adult.code())
    }
    pub fn refer_at_once(&self) -> bool {
        !self.triggers.is_empty()
    }
}

vocabulary! {
    HsbWhere {
        Online => "online", "Online";
        Offline => "offline", "In person";
        Both => "both", "Both";
    }
}

/// The Harmful Sexual Behaviour record: the child alleged to have harmed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hsb {
    pub child_name: String,
    pub child_age: Option<u8>,
    /// Their own case, when they have one the recorder can see.
    pub own_case: String,
    pub setting: String,
    pub assessment: String,
    pub safety_plan: String,
    pub notes: String,
}

/// The one-line summary for the case page and the chronology.
pub fn summary_prevent(p: &Prevent) -> String {
    let referral = PreventReferral::parse(&p.referral).map_or("", PreventReferral::label);
    let channel = ChannelOutcome::parse(&p.channel).map_or("", ChannelOutcome::label);
    let material = match MaterialReported::parse(&p.material) {
        Some(MaterialReported::Yes) => format!("terrorist material reported by {}", p.reported_by),
        Some(MaterialReported::No) => "terrorist material not yet reported".to_owned(),
        _ => "no terrorist material found".to_owned(),
    };
    format!(
        "Prevent lead: {}. {referral}. Channel: {channel}; {material}.",
        p.lead
    )
}

pub fn summary_nudes(n: &Nudes) -> String {
    let police = PoliceRecord::parse(&n.police).map_or("", PoliceRecord::label);
    if n.triggers.is_empty() {
        format!("No trigger for an immediate referral applied. Police: {police}.")
    } else {
        let t: Vec<&str> = n
            .triggers
            .iter()
            .filter_map(|t| NudesTrigger::parse(t))
            .map(NudesTrigger::label)
            .collect();
        format!(
            "Immediate referral to the police and children's social care: {}. Police: {police}.{}",
            t.join("; "),
            if n.adult_involved() {
                " An adult is involved: this is child sexual abuse and needs an urgent police referral."
            } else {
                ""
            }
        )
    }
}

pub fn summary_hsb(h: &Hsb) -> String {
    format!(
        "The child alleged to have harmed: {}{}{}. Safety plan: {}.",
        h.child_name,
        h.child_age
            .map(|a| format!(", aged {a}"))
            .unwrap_or_default(),
        if h.own_case.is_empty() {
            String::new()
        } else {
            format!(" (their case {})", h.own_case)
        },
        if h.safety_plan == "yes" {
            "in place"
        } else {
            "not yet"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adult_involved_makes_the_summary_say_child_sexual_abuse() {
        let n = Nudes {
            triggers: vec!["adult".into(), "under_13".into()],
            police: "pending".into(),
            ..Nudes::default()
        };
        assert!(n.adult_involved() && n.refer_at_once());
        let s = summary_nudes(&n);
        assert!(s.starts_with("Immediate referral to the police and children's social care: An adult is involved; A child in the images is under 13."));
        assert!(s.ends_with("needs an urgent police referral."));
        let none = Nudes {
            police: "outcome_21".into(),
            ..Nudes::default()
        };
        assert!(!none.refer_at_once());
        assert!(summary_nudes(&none).contains("outcome 21"));
    }
}
