//! The page frame's data: title, the signed-in person, the navigation and the CSRF token.

use crate::auth::CurrentUser;
use crate::domain::Role;

#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    /// Deadlines due today or overdue, shown beside the item when above zero; `None` when the
    /// request did not count them, and `marker` names the count the guard fills in.
    pub count: Option<i64>,
    pub marker: &'static str,
}

/// What a navigation count not yet read leaves in the page, for the guard to fill in
/// (`web::guard`). An HTML comment: text anyone typed is escaped, so `<!--` only ever comes
/// from a template.
pub fn count_marker(which: &str) -> String {
    format!("<!--haven-count:{which}-->")
}

/// A navigation count as the page shows it: nothing at zero, "99+" from 100 (the session
/// statement stops counting there).
pub fn count_badge(count: i64) -> String {
    if count <= 0 {
        return String::new();
    }
    let shown = if count >= 100 {
        "99+".to_owned()
    } else {
        count.to_string()
    };
    format!(
        " <span class=\"haven-count\">{shown}<span class=\"govuk-visually-hidden\"> due today or overdue</span></span>"
    )
}

impl NavItem {
    /// The count's markup beside the item (numbers only, or the marker: nothing to escape).
    pub fn badge(&self) -> String {
        match self.count {
            Some(n) => count_badge(n),
            None => count_marker(self.marker),
        }
    }
}

#[derive(Clone, Debug)]
pub struct NavUser {
    pub name: String,
    pub role_label: &'static str,
    pub nav: Vec<NavItem>,
    /// Security notices about their account the person has not read.
    pub unseen_notices: i64,
    /// The session's idle timeout, for the warning two minutes before it (JavaScript).
    pub idle_seconds: i64,
}

#[derive(Clone, Debug)]
pub struct Layout {
    pub title: String,
    pub user: Option<NavUser>,
    pub csrf: String,
    /// Non-empty when the page shows form errors: the title then starts with "Error:".
    pub error_prefix: &'static str,
    /// The stylesheet's and script's addresses, with their content hashes.
    pub css: String,
    pub js: String,
}

/// Which part of Haven a page belongs to, to mark the navigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    MyWork,
    TeamWork,
    MyCases,
    TeamCases,
    NewReferral,
    Lado,
    Admin,
    Account,
    None,
}

impl Layout {
    /// A frame with nobody signed in (sign-in pages, error pages).
    pub fn bare(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            user: None,
            csrf: String::new(),
            error_prefix: "",
            css: crate::app::asset("haven.css"),
            js: crate::app::asset("haven.js"),
        }
    }

    pub fn for_user(title: impl Into<String>, user: &CurrentUser, section: Section) -> Layout {
        let mut nav = Vec::new();
        let mut item = |href, label, s: Section, count: Option<i64>, marker| {
            nav.push(NavItem {
                href,
                label,
                current: s == section,
                count,
                marker,
            })
        };
        let none = Some(0);
        // Managers and the LADO see their teams' work and cases around their own.
        let oversees = matches!(user.role, Role::Manager | Role::Lado);
        if user.role == Role::Admin {
            item("/admin/users", "Users", Section::Admin, none, "");
        } else {
            if user.role == Role::Lado {
                item("/lado", "LADO", Section::Lado, none, "");
            }
            if oversees {
                let team = user.due_team;
                item("/work/team", "Team work", Section::TeamWork, team, "team");
            }
            item("/work", "My work", Section::MyWork, user.due_mine, "mine");
            item("/cases", "My cases", Section::MyCases, none, "");
            if oversees {
                item("/cases/team", "Team cases", Section::TeamCases, none, "");
            }
            let new_referral = Section::NewReferral;
            item("/referrals/new", "New referral", new_referral, none, "");
        }
        item("/account", "Your account", Section::Account, none, "");
        Layout {
            title: title.into(),
            user: Some(NavUser {
                name: user.name.clone(),
                role_label: user.role.label(),
                nav,
                unseen_notices: user.unseen_notices,
                idle_seconds: user.idle_seconds,
            }),
            csrf: user.csrf_token.clone(),
            error_prefix: "",
            css: crate::app::asset("haven.css"),
            js: crate::app::asset("haven.js"),
        }
    }

    /// Mark the page as showing errors (the title gets "Error:" for screen-reader users).
    pub fn with_errors(mut self, errors: &super::form::Errors) -> Layout {
        if !errors.is_empty() {
            self.error_prefix = "Error: ";
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_shows_nothing_at_zero_and_stops_at_99_plus() {
        assert_eq!(count_badge(0), "");
        assert!(count_badge(7).contains(">7<span"));
        assert!(count_badge(100).contains(">99+<span"));
        let unread = NavItem {
            href: "/work",
            label: "My work",
            current: false,
            count: None,
            marker: "mine",
        };
        assert_eq!(unread.badge(), count_marker("mine"));
    }
}
