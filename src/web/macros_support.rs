//! Small view types the template macros take.

/// One radio button or checkbox.
#[derive(Clone, Debug)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub hint: String,
    pub selected: bool,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>, selected: bool) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
            hint: String::new(),
            selected,
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Choice {
        self.hint = hint.into();
        self
    }
}

/// A row of a GOV.UK summary list, with an optional change link.
#[derive(Clone, Debug)]
pub struct SummaryRow {
    pub key: String,
    pub value: String,
    pub change_href: String,
    pub change_label: String,
}

impl SummaryRow {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> SummaryRow {
        SummaryRow {
            key: key.into(),
            value: value.into(),
            change_href: String::new(),
            change_label: String::new(),
        }
    }
    pub fn change(mut self, href: impl Into<String>, what: impl Into<String>) -> SummaryRow {
        self.change_href = href.into();
        self.change_label = what.into();
        self
    }
}
