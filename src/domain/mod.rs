//! Types that parse and the pure rules of the procedure. No web or database code lives here.

pub mod calendar;
pub mod deadlines;
pub mod documents;
pub mod email;
pub mod kinds;
pub mod lado;
pub mod lado_report;
pub mod password;
pub mod pathways;
pub mod people;
pub mod procedure;
pub mod reference;
pub mod time;

pub use email::Email;
pub use kinds::{CaseStatus, ConcernKind, Relationship, Role, WorksWithChildren};
pub use reference::CaseReference;
