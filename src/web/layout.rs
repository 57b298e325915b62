//! The page frame's data: title, the signed-in person, the navigation and the CSRF token.

use crate::auth::CurrentUser;
use crate::domain::Role;

#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    /// Deadlines due today or overdue, shown beside the item when above zero.
    pub count: i64,
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
        let mut item = |href, label, s: Section, count: i64| {
            nav.push(NavItem {
                href,
                label,
                current: s == section,
                count,
            })
        };
        match user.role {
            Role::Admin => {
                item("/admin/users", "Users", Section::Admin, 0);
            }
            Role::Practitioner => {
                item("/work", "My work", Section::MyWork, user.due_mine);
                item("/cases", "My cases", Section::MyCases, 0);
                item("/referrals/new", "New referral", Section::NewReferral, 0);
            }
            Role::Manager | Role::Lado => {
                if user.role == Role::Lado {
                    item("/lado", "LADO", Section::Lado, 0);
                }
                item("/work/team", "Team work", Section::TeamWork, user.due_team);
                item("/work", "My work", Section::MyWork, user.due_mine);
                item("/cases", "My cases", Section::MyCases, 0);
                item("/cases/team", "Team cases", Section::TeamCases, 0);
                item("/referrals/new", "New referral", Section::NewReferral, 0);
            }
        }
        item("/account", "Your account", Section::Account, 0);
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
