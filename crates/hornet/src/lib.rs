//! Hornet broker shell.

pub mod cli;
pub mod config;
pub mod server;
