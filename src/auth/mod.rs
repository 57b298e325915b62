//! Who is asking, and may they: passwords, sessions, second factors, CSRF, throttling and the policy.

pub mod csrf;
pub mod current;
pub mod keys;
pub mod password;
pub mod policy;
pub mod secret_box;
pub mod throttle;
pub mod token;
pub mod totp;

pub use current::{CurrentUser, RequestMeta};
pub use policy::Permission;
