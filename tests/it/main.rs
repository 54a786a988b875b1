//! All integration tests, in one binary: each module runs the real `tagrec` binary, against the
//! real emulator over HTTP on loopback wherever the network is involved.

mod support;

mod action;
mod apply;
mod audit;
mod client;
mod install;
mod plan;
mod sandbox;
mod validate;
