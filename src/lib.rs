//! Haven: case management for safeguarding children from online abuse.
//!
//! Dependency direction: `web` -> `auth` / `audit` / `db` -> `domain`.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod web;
