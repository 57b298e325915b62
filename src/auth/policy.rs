//! The authorisation policy: who may use which route. Every route declares a `Permission`;
//! the guard in `web::guard` enforces it before the handler runs. There is no default "allow".

use crate::domain::Role;

use super::current::{CurrentUser, Stage};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Anyone, signed in or not (sign-in page, health checks, set-password links).
    Public,
    /// A person part-way through signing in (second factor to enter or set up).
    SigningIn,
    /// Anyone with a session, however far through signing in (signing out).
    AnySession,
    /// Any fully signed-in person, whatever their role (own account pages, sign-out).
    SignedIn,
    /// Fully signed-in people with one of these roles.
    Roles(&'static [Role]),
}

/// People who work on cases. Administrators are deliberately absent: they never read case content.
pub const CASEWORK: &[Role] = &[Role::Practitioner, Role::Manager, Role::Lado];
/// People who oversee a team's cases and who has looked at them.
pub const OVERSIGHT: &[Role] = &[Role::Manager, Role::Lado];
pub const ADMIN: &[Role] = &[Role::Admin];
/// People who approve decisions, outcomes and closures.
pub const MANAGERS: &[Role] = &[Role::Manager];
/// The LADO's own pages.
pub const LADO: &[Role] = &[Role::Lado];

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not signed in (or not far enough): send to the sign-in step.
    SignIn(&'static str),
    /// Signed in but this role may not.
    Deny,
}

pub fn decide(permission: Permission, user: Option<&CurrentUser>) -> Decision {
    match (permission, user) {
        (Permission::Public, _) => Decision::Allow,
        (_, None) => Decision::SignIn("/sign-in"),
        (Permission::AnySession, Some(_)) => Decision::Allow,
        (Permission::SigningIn, Some(u)) => match u.stage {
            Stage::Active => Decision::SignIn("/"),
            _ => Decision::Allow,
        },
        (_, Some(u)) if u.stage == Stage::SecondFactor => Decision::SignIn("/sign-in/code"),
        (_, Some(u)) if u.stage == Stage::Enrol => Decision::SignIn("/sign-in/set-up-code"),
        (Permission::SignedIn, Some(_)) => Decision::Allow,
        (Permission::Roles(roles), Some(u)) => {
            if roles.contains(&u.role) {
                Decision::Allow
            } else {
                Decision::Deny
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user(role: Role, stage: Stage) -> CurrentUser {
        CurrentUser {
            session_id: Uuid::nil(),
            stage,
            csrf_token: "t".into(),
            id: Uuid::nil(),
            email: "a@example.org".into(),
            name: "A".into(),
            role,
            team_ids: vec![],
            ip: None,
            unseen_notices: 0,
            due_mine: Some(0),
            due_team: Some(0),
            reauthenticated_at: chrono::Utc::now(),
            idle_seconds: 1800,
            calendar_version: Uuid::nil(),
        }
    }

    #[test]
    fn admins_never_get_casework() {
        assert_eq!(
            decide(
                Permission::Roles(CASEWORK),
                Some(&user(Role::Admin, Stage::Active))
            ),
            Decision::Deny
        );
        assert_eq!(
            decide(
                Permission::Roles(ADMIN),
                Some(&user(Role::Admin, Stage::Active))
            ),
            Decision::Allow
        );
    }

    #[test]
    fn half_signed_in_sessions_only_reach_the_sign_in_steps() {
        let u = user(Role::Lado, Stage::SecondFactor);
        assert_eq!(
            decide(Permission::Roles(CASEWORK), Some(&u)),
            Decision::SignIn("/sign-in/code")
        );
        assert_eq!(
            decide(Permission::SignedIn, Some(&u)),
            Decision::SignIn("/sign-in/code")
        );
        assert_eq!(decide(Permission::SigningIn, Some(&u)), Decision::Allow);
        assert_eq!(decide(Permission::AnySession, Some(&u)), Decision::Allow);
        let u = user(Role::Admin, Stage::Enrol);
        assert_eq!(
            decide(Permission::Roles(ADMIN), Some(&u)),
            Decision::SignIn("/sign-in/set-up-code")
        );
    }

    #[test]
    fn anonymous_people_are_sent_to_sign_in_except_on_public_routes() {
        assert_eq!(
            decide(Permission::SignedIn, None),
            Decision::SignIn("/sign-in")
        );
        assert_eq!(decide(Permission::Public, None), Decision::Allow);
    }
}
