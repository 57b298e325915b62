//! Haven's integration tests: the whole app in-process, against real PostgreSQL.

mod helpers;

mod admin;
mod attacks;
mod audit;
mod auth;
mod browser;
mod cases;
mod cli;
mod referrals;
mod security;
