//! Hornet broker shell.

mod admin;
pub mod banner;
pub mod bridge;
pub mod cli;
mod client;
mod cluster;
pub mod config;
pub mod describe;
pub mod logging;
pub mod process;
pub mod server;
