//! Every end-to-end test in one binary: each module drives the real `causeway` binary and
//! real nodes. One binary instead of one per file keeps the debug build's disk use and
//! link time down (each test binary links the whole relay).
mod adapters;
mod evm;
mod evm_bridge;
mod foundation;
mod notary;
mod swap;
mod tools;
