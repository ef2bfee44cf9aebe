//! Hornet broker shell.

mod admin;
pub mod banner;
pub mod cli;
pub mod config;
pub mod describe;
pub mod server;
