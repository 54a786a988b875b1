//! Shared test support: the binary, and a `tagrec sandbox serve` on a free loopback port.
#![allow(dead_code)]
