//! Hornet broker shell.

mod admin;
pub mod cli;
mod client;
pub mod config;
pub mod server;
