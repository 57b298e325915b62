//! The help page: where to report and where to find advice, for practitioners.

use askama::Template;
use axum::response::Html;

use crate::auth::CurrentUser;
use crate::error::AppResult;

use super::layout::{Layout, Section};

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    layout: Layout,
    /// Each deadline and its rule, from `domain::deadlines` (where the rules live).
    rules: Vec<(&'static str, &'static str)>,
}

pub async fn show(user: CurrentUser) -> AppResult<Html<String>> {
    Ok(Html(
        HelpPage {
            layout: Layout::for_user("Help and useful links", &user, Section::None),
            rules: crate::domain::deadlines::Kind::ALL
                .iter()
                .map(|k| (k.label(), k.rule()))
                .collect(),
        }
        .render()?,
    ))
}
