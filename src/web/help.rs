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
}

pub async fn show(user: CurrentUser) -> AppResult<Html<String>> {
    Ok(Html(
        HelpPage {
            layout: Layout::for_user("Help and useful links", &user, Section::None),
        }
        .render()?,
    ))
}
