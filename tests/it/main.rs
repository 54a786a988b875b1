//! All integration tests, in one binary: each module runs the real `tagrec` binary, against the
//! real emulator over HTTP on loopback wherever the network is involved.

mod support;

mod action;
mod apply;
mod audit;
mod billing;
mod cli;
mod client;
mod cost_explorer;
mod cost_explorer_sdk;
mod costs;
mod credentials;
mod docs;
mod estate;
mod init;
mod install;
mod layers;
mod output;
mod plan;
mod sandbox;
mod target;
mod tls;
mod validate;
mod voice;
