//! Errors of the node library: setting up a home, opening it, storage and serving.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DevchainError {
    #[error("{path} already holds a devchain home; pass --force to overwrite it (this deletes the chain's data)")]
    HomeExists { path: PathBuf },

    #[error("{home} is not a devchain home ({missing} is missing); run `causeway devchain init --home {home}` first")]
    NotInitialized { home: PathBuf, missing: PathBuf },

    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not valid {format}: {detail}; fix it, or recreate the home with `causeway devchain init --force`")]
    Parse {
        path: PathBuf,
        format: &'static str,
        detail: String,
    },

    #[error("invalid genesis: `{field}` {reason}")]
    InvalidGenesis { field: String, reason: String },

    #[error("invalid node setting `{field}`: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    #[error("validator key {path}: {reason}")]
    ValidatorKey { path: PathBuf, reason: String },

    #[error("could not open the database at {path}: {source}; is another node already running on this home?")]
    OpenDatabase {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },

    #[error("database {what} failed: {source}; check disk space and permissions, then restart the node (committed blocks are safe)")]
    Storage {
        what: String,
        #[source]
        source: sled::Error,
    },

    #[error("database entry {key} is corrupt: {detail}; restore the home's db from a backup or recreate the chain")]
    Corrupt { key: String, detail: String },

    #[error("the database at {path} holds chain {found}, but genesis.json describes chain {expected}; use the matching home or re-init with --force")]
    GenesisMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error("could not serve JSON-RPC on {addr}: {source}; choose a free loopback port (port 0 picks one)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("block production stopped: {detail}")]
    Producer { detail: String },
}

impl DevchainError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> DevchainError {
        let path = path.into();
        move |source| DevchainError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn parse<E: std::fmt::Display>(
        format: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(E) -> DevchainError {
        let path = path.into();
        move |e| DevchainError::Parse {
            path,
            format,
            detail: e.to_string(),
        }
    }

    pub(crate) fn storage(what: impl Into<String>) -> impl FnOnce(sled::Error) -> DevchainError {
        let what = what.into();
        move |source| DevchainError::Storage { what, source }
    }
}
