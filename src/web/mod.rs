//! The web layer: one module per area, each with its handlers, forms and page structs.
//! Every route is registered through [`Routes`], which makes it declare a [`Permission`].

pub mod access;
pub mod account;
pub mod admin;
pub mod allocation;
pub mod calendar;
pub mod cases;
pub mod documents;
pub mod form;
pub mod guard;
pub mod headers;
pub mod health;
pub mod help;
pub mod lado;
pub mod layout;
pub mod macros_support;
pub mod pathways;
pub mod people;
pub mod print;
pub mod procedure;
pub mod referrals;
pub mod risk;
pub mod second_factor;
pub mod sign_in;
pub mod work;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};

use crate::app::AppState;
use crate::auth::Permission;
use crate::auth::policy::{ADMIN, CASEWORK, LADO, MANAGERS, OVERSIGHT};
use crate::error::AppError;

/// One route and who may use it.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub permission: Permission,
}

/// A router builder that will not take a route without a permission.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteSpec>,
    state: AppState,
}

impl Routes {
    fn new(state: AppState) -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
            state,
        }
    }

    fn add(
        self,
        method: Method,
        path: &'static str,
        permission: Permission,
        route: MethodRouter<AppState>,
    ) -> Self {
        self.add_guarded(method, path, permission, route, false, false)
    }

    fn add_guarded(
        mut self,
        method: Method,
        path: &'static str,
        permission: Permission,
        route: MethodRouter<AppState>,
        upload: bool,
        answers_with_page: bool,
    ) -> Self {
        let guarded = route.layer(axum::middleware::from_fn_with_state(
            guard::GuardState {
                app: self.state.clone(),
                permission,
                upload,
                answers_with_page,
            },
            guard::guard,
        ));
        self.router = self.router.route(path, guarded);
        self.table.push(RouteSpec {
            method,
            path,
            permission,
        });
        self
    }

    pub fn get<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, permission, get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, permission, post(handler))
    }

    /// A POST that takes one file (multipart/form-data), under the documents' limits.
    pub fn upload<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add_guarded(Method::POST, path, permission, post(handler), true, false)
    }

    /// A POST that answers with a page even when it succeeds (a search): its session statement
    /// reads the navigation's counts at once, as a GET's does, rather than after the handler.
    pub fn post_page<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add_guarded(Method::POST, path, permission, post(handler), false, true)
    }
}

pub fn routes(state: AppState) -> (Router, Vec<RouteSpec>) {
    let casework = Permission::Roles(CASEWORK);
    let oversight = Permission::Roles(OVERSIGHT);
    let admin = Permission::Roles(ADMIN);
    let managers = Permission::Roles(MANAGERS);
    let lado = Permission::Roles(LADO);
    let r = Routes::new(state.clone())
        // Health checks for load balancers.
        .get("/healthz", Permission::Public, health::healthz)
        .get("/readyz", Permission::Public, health::readyz)
        // Signing in and out.
        .get("/sign-in", Permission::Public, sign_in::show)
        .post("/sign-in", Permission::Public, sign_in::submit)
        .get(
            "/sign-in/code",
            Permission::SigningIn,
            second_factor::code_form,
        )
        .post(
            "/sign-in/code",
            Permission::SigningIn,
            second_factor::code_submit,
        )
        .get(
            "/sign-in/set-up-code",
            Permission::SigningIn,
            second_factor::enrol_form,
        )
        .post(
            "/sign-in/set-up-code/start",
            Permission::SigningIn,
            second_factor::enrol_start,
        )
        .post(
            "/sign-in/set-up-code",
            Permission::SigningIn,
            second_factor::enrol_submit,
        )
        .post("/sign-out", Permission::AnySession, sign_in::sign_out)
        .get(
            "/set-password/{token}",
            Permission::Public,
            sign_in::set_password_form,
        )
        .post(
            "/set-password/{token}",
            Permission::Public,
            sign_in::set_password_submit,
        )
        // Everyone's own account.
        .get("/", Permission::SignedIn, account::home)
        .get("/account", Permission::SignedIn, account::show)
        .get("/held-form", Permission::SignedIn, account::held_form)
        .post(
            "/held-form/discard",
            Permission::SignedIn,
            account::held_form_discard,
        )
        .post(
            "/account/keep-alive",
            Permission::SignedIn,
            account::keep_alive,
        )
        .post(
            "/account/sessions/{id}/end",
            Permission::SignedIn,
            account::end_session,
        )
        .post(
            "/account/notices/seen",
            Permission::SignedIn,
            account::notices_seen,
        )
        .get(
            "/account/password",
            Permission::SignedIn,
            account::password_form,
        )
        .post(
            "/account/password",
            Permission::SignedIn,
            account::password_submit,
        )
        .get(
            "/account/two-factor",
            Permission::SignedIn,
            second_factor::two_factor_form,
        )
        .post(
            "/account/two-factor/change",
            Permission::SignedIn,
            second_factor::two_factor_change,
        )
        .post(
            "/account/two-factor",
            Permission::SignedIn,
            second_factor::two_factor_submit,
        )
        .get("/help", Permission::SignedIn, help::show)
        .get("/working-days", Permission::SignedIn, calendar::calculator)
        // Dashboards.
        .get("/work", casework, work::mine)
        .get("/work/team", oversight, work::team)
        .get("/work/deadlines", casework, work::my_deadlines)
        .get("/work/team/deadlines", oversight, work::team_deadlines)
        .get("/work/team/approvals", oversight, work::team_approvals)
        .get("/work/team/risks", oversight, work::team_risks)
        // Referrals.
        .get("/referrals/new", casework, referrals::start)
        .post("/referrals", casework, referrals::create_draft)
        .get("/referrals/{id}/{step}", casework, referrals::step_form)
        .post("/referrals/{id}/{step}", casework, referrals::step_submit)
        .post(
            "/referrals/{id}/{step}/remove/{index}",
            casework,
            referrals::remove_person,
        )
        // Cases.
        .get("/cases", casework, cases::my_cases)
        .get("/cases/team", oversight, cases::team_cases)
        .post_page("/cases/search", casework, cases::search)
        .get("/cases/{id}", casework, cases::show)
        .post("/cases/{id}/notes", casework, cases::add_note)
        .get("/cases/{id}/edit", casework, cases::edit_form)
        .post("/cases/{id}/edit", casework, cases::edit_submit)
        .get("/cases/{id}/audit", oversight, cases::audit)
        .get("/cases/{id}/people/new/{kind}", casework, people::new_form)
        .post(
            "/cases/{id}/people/new/{kind}",
            casework,
            people::new_submit,
        )
        .get("/cases/{id}/people/{pid}/edit", casework, people::edit_form)
        .post(
            "/cases/{id}/people/{pid}/edit",
            casework,
            people::edit_submit,
        )
        .get("/cases/{id}/print", casework, print::show)
        .get("/cases/{id}/police-contact", casework, risk::police_form)
        .post("/cases/{id}/police-contact", casework, risk::police_submit)
        .post("/cases/{id}/risk/acknowledge", managers, risk::acknowledge)
        .get("/cases/{id}/allocate", managers, allocation::allocate_form)
        .post(
            "/cases/{id}/allocate",
            managers,
            allocation::allocate_submit,
        )
        .get("/cases/{id}/supervision", casework, allocation::supervision)
        .post(
            "/cases/{id}/supervision",
            managers,
            allocation::supervision_submit,
        )
        .get("/work/caseloads", managers, allocation::caseloads)
        .get("/cases/{id}/pathways/{kind}", casework, pathways::form)
        .post("/cases/{id}/pathways/{kind}", casework, pathways::submit)
        .get("/cases/{id}/documents/new", casework, documents::case_form)
        .upload("/cases/{id}/documents", casework, documents::case_upload)
        .get(
            "/cases/{id}/documents/{doc}",
            casework,
            documents::case_download,
        )
        // The procedure after the referral.
        .get("/cases/{id}/procedure", casework, procedure::overview)
        .get("/cases/{id}/decision", casework, procedure::decision::form)
        .post(
            "/cases/{id}/decision",
            casework,
            procedure::decision::submit,
        )
        .post(
            "/cases/{id}/decision/review",
            managers,
            procedure::decision::review,
        )
        .get(
            "/cases/{id}/decision/referrer-told",
            casework,
            procedure::decision::referrer_told_form,
        )
        .post(
            "/cases/{id}/decision/referrer-told",
            casework,
            procedure::decision::referrer_told,
        )
        .post("/cases/{id}/strategy", casework, procedure::strategy::start)
        .get(
            "/cases/{id}/strategy/{sid}",
            casework,
            procedure::strategy::tasks,
        )
        .get(
            "/cases/{id}/strategy/{sid}/{page}",
            casework,
            procedure::strategy::page_form,
        )
        .post(
            "/cases/{id}/strategy/{sid}/{page}",
            casework,
            procedure::strategy::page_submit,
        )
        .post(
            "/cases/{id}/strategy/{sid}/actions/{aid}/done",
            casework,
            procedure::strategy::action_done,
        )
        .get(
            "/cases/{id}/enquiries/{eid}",
            casework,
            procedure::section47::form,
        )
        .post(
            "/cases/{id}/enquiries/{eid}",
            casework,
            procedure::section47::submit,
        )
        .post(
            "/cases/{id}/enquiries/{eid}/review",
            managers,
            procedure::section47::review,
        )
        .get(
            "/cases/{id}/conferences/new",
            casework,
            procedure::events::conference_form,
        )
        .post(
            "/cases/{id}/conferences",
            casework,
            procedure::events::conference_submit,
        )
        .get(
            "/cases/{id}/core-groups/new",
            casework,
            procedure::events::core_group_form,
        )
        .post(
            "/cases/{id}/core-groups",
            casework,
            procedure::events::core_group_submit,
        )
        .get(
            "/cases/{id}/milestones/{kind}",
            casework,
            procedure::events::milestone_form,
        )
        .post(
            "/cases/{id}/milestones/{kind}",
            casework,
            procedure::events::milestone_submit,
        )
        .get("/cases/{id}/close", casework, procedure::closure::form)
        .post("/cases/{id}/close", casework, procedure::closure::submit)
        .post(
            "/cases/{id}/close/review",
            managers,
            procedure::closure::review,
        )
        .post(
            "/cases/{id}/deadlines/{did}/reason",
            casework,
            procedure::late_reason,
        )
        // Restricted records: confirming it is you, and asking the LADO to open one.
        .get(
            "/account/confirm",
            Permission::SignedIn,
            access::confirm_form,
        )
        .post(
            "/account/confirm",
            Permission::SignedIn,
            access::confirm_submit,
        )
        .get("/access-requests", casework, access::request_form)
        .post("/access-requests", casework, access::request_submit)
        // The LADO's allegations.
        .get("/lado", lado, lado::dashboard)
        .get("/lado/reviews", lado, lado::reviews)
        .get("/lado/allegations/new", lado, lado::new_form)
        .post("/lado/allegations", lado, lado::create)
        .get("/lado/report", lado, lado::report::show)
        .post("/lado/report/export", lado, lado::report::export)
        .get("/lado/allegations/{id}", casework, lado::show)
        .get(
            "/lado/allegations/{id}/evidence",
            casework,
            lado::evidence_print,
        )
        .get(
            "/lado/allegations/{id}/forms/{form}",
            lado,
            lado::forms::show_form,
        )
        .post(
            "/lado/allegations/{id}/steps/{step}",
            lado,
            lado::forms::record_step,
        )
        .post(
            "/lado/allegations/{id}/steps/{step}/acknowledge",
            lado,
            lado::forms::acknowledge_breach,
        )
        .post(
            "/lado/allegations/{id}/threshold",
            lado,
            lado::forms::threshold,
        )
        .post("/lado/allegations/{id}/told", lado, lado::forms::told)
        .post(
            "/lado/allegations/{id}/meetings",
            lado,
            lado::forms::meeting,
        )
        .post(
            "/lado/allegations/{id}/strands/{strand}",
            lado,
            lado::forms::strand,
        )
        .post(
            "/lado/allegations/{id}/actions",
            lado,
            lado::forms::employee_action,
        )
        .post(
            "/lado/allegations/{id}/evidence",
            lado,
            lado::forms::evidence,
        )
        .post(
            "/lado/allegations/{id}/evidence/{item}/access",
            lado,
            lado::forms::evidence_access,
        )
        .post(
            "/lado/allegations/{id}/evidence/{item}/custody",
            lado,
            lado::forms::custody,
        )
        .post("/lado/allegations/{id}/subject", lado, lado::forms::subject)
        .post(
            "/lado/allegations/{id}/actions/{action}/written",
            lado,
            lado::forms::written,
        )
        .post("/lado/allegations/{id}/cases", lado, lado::forms::link_case)
        .get(
            "/lado/allegations/{id}/documents/new",
            lado,
            documents::allegation_form,
        )
        .upload(
            "/lado/allegations/{id}/documents",
            lado,
            documents::allegation_upload,
        )
        // The people the LADO names on an allegation may read its documents too.
        .get(
            "/lado/allegations/{id}/documents/{doc}",
            casework,
            documents::allegation_download,
        )
        .post(
            "/lado/allegations/{id}/access",
            lado,
            lado::forms::grant_access,
        )
        .post(
            "/lado/allegations/{id}/access/{person}/remove",
            lado,
            lado::forms::revoke_access,
        )
        .get(
            "/lado/allegations/{id}/outcome",
            lado,
            lado::forms::outcome_form,
        )
        .post(
            "/lado/allegations/{id}/outcome",
            lado,
            lado::forms::outcome_submit,
        )
        .post(
            "/lado/access-requests/{request}",
            lado,
            lado::forms::decide_break_glass,
        )
        // Administration.
        .get("/admin/users", admin, admin::users)
        .get("/admin/users/new", admin, admin::new_user_form)
        .post("/admin/users", admin, admin::create_user)
        .get("/admin/users/{id}", admin, admin::user)
        .post("/admin/users/{id}/disable", admin, admin::disable_user)
        .post("/admin/users/{id}/enable", admin, admin::enable_user)
        .post("/admin/users/{id}/password-link", admin, admin::links::ask)
        .post(
            "/admin/users/{id}/password-link/release",
            admin,
            admin::links::release,
        )
        .post(
            "/admin/users/{id}/unlock-second-factor",
            admin,
            admin::unlock_second_factor,
        )
        .post("/admin/users/{id}/end-sessions", admin, admin::end_sessions)
        .post("/admin/users/{id}/access", admin, admin::change_access)
        .post(
            "/admin/users/{id}/reset-second-factor",
            admin,
            admin::reset_second_factor,
        )
        .get("/admin/calendar", admin, calendar::admin_calendar)
        .post("/admin/calendar", admin, calendar::admin_calendar_add)
        .post(
            "/admin/calendar/{day}/remove",
            admin,
            calendar::admin_calendar_remove,
        )
        .get("/admin/settings", admin, calendar::settings)
        .post("/admin/settings", admin, calendar::settings_submit)
        .get("/admin/teams", admin, admin::teams)
        .post("/admin/teams", admin, admin::create_team);
    (r.router.with_state(state), r.table)
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// An id from a URL. Anything that is not a UUID is simply "not found": URLs are typed and
/// edited by people, and a malformed one must get the same page as a missing record.
pub fn parse_id(s: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(s).map_err(|_| AppError::NotFound)
}
