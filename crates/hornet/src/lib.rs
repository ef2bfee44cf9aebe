//! Hornet broker shell.

mod admin;
pub mod cli;
pub mod config;
pub mod server;
