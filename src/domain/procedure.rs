//! What the procedure after a referral means, as vocabularies and small rules: the decision on a
//! referral, the strategy discussion's attendees and its thirteen considerations, Section 47
//! outcomes (Working Together 2023), child protection plan categories, and who may approve what.

use super::kinds::vocabulary;

vocabulary! {
    /// The decision on a referral, made within one working day of receiving it.
    DecisionOutcome {
        StrategyDiscussion => "strategy_discussion", "Hold a strategy discussion";
        SingleAssessment => "single_assessment", "Carry out a single assessment";
        Lado => "lado", "Refer to the LADO (allegation against someone who works with children)";
        EarlyHelp => "early_help", "Offer early help";
        NoFurtherAction => "no_further_action", "No further action";
    }
}

impl DecisionOutcome {
    /// Reasons must be written for these.
    pub fn needs_reasons(self) -> bool {
        matches!(self, DecisionOutcome::NoFurtherAction)
    }
    /// Does this decision keep the case in statutory assessment (so the 45-day clock runs)?
    pub fn assesses(self) -> bool {
        matches!(
            self,
            DecisionOutcome::StrategyDiscussion | DecisionOutcome::SingleAssessment
        )
    }
}

vocabulary! {
    /// Where a strategy discussion attendee comes from.
    Agency {
        SocialCare => "social_care", "Children's social care";
        Police => "police", "Police";
        Health => "health", "Health";
        Education => "education", "Education";
        Referrer => "referrer", "The referring agency";
        Other => "other", "Other";
    }
}

vocabulary! {
    /// An attendee's part, for the Working Together minimum.
    AttendeeRole {
        SocialWorker => "social_worker", "Social worker";
        Manager => "manager", "Social work manager";
        Officer => "officer", "Police officer";
        Practitioner => "practitioner", "Health or other practitioner";
        Other => "other", "Other";
    }
}

/// Who Working Together 2023 expects at every strategy discussion: the social worker and their
/// manager from children's social care, the police, and health. Returns what is missing, in words.
pub fn missing_attendees(attendees: &[(Agency, AttendeeRole)]) -> Vec<&'static str> {
    let has = |f: &dyn Fn(&(Agency, AttendeeRole)) -> bool| attendees.iter().any(f);
    let mut missing = Vec::new();
    if !has(&|a| a.0 == Agency::SocialCare && a.1 == AttendeeRole::SocialWorker) {
        missing.push("a social worker from children's social care");
    }
    if !has(&|a| a.0 == Agency::SocialCare && a.1 == AttendeeRole::Manager) {
        missing.push("the social worker's manager");
    }
    if !has(&|a| a.0 == Agency::Police) {
        missing.push("the police");
    }
    if !has(&|a| a.0 == Agency::Health) {
        missing.push("health");
    }
    missing
}

/// The thirteen questions every strategy discussion (and any Section 47 enquiry) must answer,
/// in the local procedure's order: (key, question, short name).
pub const CONSIDERATIONS: &[(&str, &str, &str)] = &[
    (
        "immediate_risk",
        "Is any child at immediate risk of significant harm, such as a child in the images or a child in the household?",
        "Immediate risk",
    ),
    (
        "impact",
        "What is the impact on the child in the images and on children in the household: their risks and needs?",
        "Impact on the children",
    ),
    (
        "visiting_children",
        "Do other children visit the household, and what is the impact on them?",
        "Children who visit",
    ),
    (
        "imminent_meeting",
        "Is a child about to meet the person who contacted them?",
        "A meeting about to happen",
    ),
    (
        "images_person_work",
        "Does the person accessing or making images have contact with children through their work?",
        "Images: contact with children at work",
    ),
    (
        "contact_person_work",
        "Does the person who contacted the child have contact with children through their work?",
        "Contact: children at work",
    ),
    (
        "images_person_trust",
        "Is the person accessing or making images a volunteer, youth worker or in another position of trust?",
        "Images: position of trust",
    ),
    (
        "contact_person_trust",
        "Is the person who contacted the child in such a position?",
        "Contact: position of trust",
    ),
    (
        "forensics",
        "What is the timescale for the forensic examination of computers and devices?",
        "Forensic examination",
    ),
    (
        "contact_management",
        "If the person is investigated, how will their contact with children be managed meanwhile, at work and at home?",
        "Managing contact meanwhile",
    ),
    (
        "other_procedures",
        "Should other procedures start, such as the allegations procedure (LADO) or complex abuse?",
        "Other procedures",
    ),
    (
        "protective_carer",
        "Can the other parent or carer protect the child, and what support do they have?",
        "The other carer",
    ),
    (
        "investigation_delay",
        "What does the likely delay in the criminal investigation mean for the child?",
        "Delay in the investigation",
    ),
];

/// The considerations, in pages of the discussion's task list.
pub const CONSIDERATION_PAGES: &[(&str, &str, &[&str])] = &[
    (
        "risk",
        "Risk to children",
        &[
            "immediate_risk",
            "impact",
            "visiting_children",
            "imminent_meeting",
        ],
    ),
    (
        "work",
        "Work and positions of trust",
        &[
            "images_person_work",
            "contact_person_work",
            "images_person_trust",
            "contact_person_trust",
        ],
    ),
    (
        "investigation",
        "The investigation and protection",
        &[
            "forensics",
            "contact_management",
            "other_procedures",
            "protective_carer",
            "investigation_delay",
        ],
    ),
];

pub fn consideration(key: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    CONSIDERATIONS.iter().find(|c| c.0 == key)
}

vocabulary! {
    /// Whether a Section 47 enquiry is carried out by children's social care alone or with the police.
    EnquiryKind {
        SingleAgency => "single_agency", "Children's social care alone";
        Joint => "joint", "Jointly with the police";
    }
}

vocabulary! {
    /// The outcome of a Section 47 enquiry for one child (Working Together 2023).
    Section47Outcome {
        NotSubstantiated => "not_substantiated", "Concerns not substantiated";
        NoContinuingRisk => "substantiated_no_continuing_risk", "Concerns substantiated, but the child is not judged to be at continuing risk of significant harm";
        LikelySignificantHarm => "likely_significant_harm", "Concerns substantiated and the child is judged to be likely to suffer significant harm";
    }
}

impl Section47Outcome {
    /// Only this outcome leads to an Initial Child Protection Conference.
    pub fn needs_conference(self) -> bool {
        matches!(self, Section47Outcome::LikelySignificantHarm)
    }
    /// No further action under child protection: reasons must be written.
    pub fn needs_reasons(self) -> bool {
        !self.needs_conference()
    }
}

vocabulary! {
    /// The category of a child protection plan.
    PlanCategory {
        Neglect => "neglect", "Neglect";
        Physical => "physical_abuse", "Physical abuse";
        Sexual => "sexual_abuse", "Sexual abuse";
        Emotional => "emotional_abuse", "Emotional abuse";
        Multiple => "multiple", "Multiple categories";
    }
}

vocabulary! {
    /// A child protection conference.
    ConferenceKind {
        Initial => "initial", "Initial child protection conference";
        Review => "review", "Review child protection conference";
    }
}

vocabulary! {
    /// The joint decision about telling the family.
    FamilyDecision {
        NotYet => "not_yet", "Do not tell the family yet";
        TellNow => "tell_now", "Tell the family now";
        Agreed => "agreed_plan", "Tell the family as agreed below";
    }
}

/// Why an approval is refused: nobody approves their own proposal.
pub fn may_approve(proposed_by: uuid::Uuid, approver: uuid::Uuid) -> bool {
    proposed_by != approver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_considerations_each_on_one_page() {
        assert_eq!(CONSIDERATIONS.len(), 13);
        let mut on_pages: Vec<&str> = CONSIDERATION_PAGES
            .iter()
            .flat_map(|(_, _, keys)| keys.iter().copied())
            .collect();
        on_pages.sort();
        let mut all: Vec<&str> = CONSIDERATIONS.iter().map(|c| c.0).collect();
        all.sort();
        assert_eq!(on_pages, all);
    }

    #[test]
    fn the_minimum_attendees_of_working_together() {
        use AttendeeRole::*;
        let full = [
            (Agency::SocialCare, SocialWorker),
            (Agency::SocialCare, Manager),
            (Agency::Police, Officer),
            (Agency::Health, Practitioner),
        ];
        assert!(missing_attendees(&full).is_empty());
        assert_eq!(missing_attendees(&full[..2]), vec!["the police", "health"]);
        assert_eq!(missing_attendees(&[]).len(), 4);
    }

    #[test]
    fn outcomes_route_the_case() {
        assert!(Section47Outcome::LikelySignificantHarm.needs_conference());
        assert!(!Section47Outcome::NotSubstantiated.needs_conference());
        assert!(Section47Outcome::NoContinuingRisk.needs_reasons());
        assert!(DecisionOutcome::NoFurtherAction.needs_reasons());
        assert!(!DecisionOutcome::EarlyHelp.assesses());
        let me = uuid::Uuid::now_v7();
        assert!(!may_approve(me, me));
    }
}
