use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::Output;
use crate::keystore::Keystore;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a new key. Its address is its Ed25519 public key.
    New {
        /// Name to refer to the key by, e.g. alice.
        name: String,
    },
    /// List the keys in the keystore with their addresses.
    List,
    /// Show a key's address (and its secret only with --reveal-secret).
    Show {
        name: String,
        /// Print the secret key too. Anyone who sees it controls the account.
        #[arg(long)]
        reveal_secret: bool,
    },
}

pub fn run(cmd: KeysCommand, keystore: &Keystore, out: Output) -> Result<()> {
    match cmd {
        KeysCommand::New { name } => {
            let key = keystore.create(&name)?;
            out.print(&json!({"name": key.name, "address": key.address()}), || {
                format!(
                    "created key {} with address {}\nstored in {}",
                    key.name,
                    key.address(),
                    keystore.dir().display()
                )
            });
        }
        KeysCommand::List => {
            let mut rows = Vec::new();
            for name in keystore.names()? {
                let key = keystore.load(&name)?;
                rows.push(json!({"name": name, "address": key.address()}));
            }
            out.print(&rows, || {
                if rows.is_empty() {
                    format!(
                        "no keys in {} (create one with `causeway keys new NAME`)",
                        keystore.dir().display()
                    )
                } else {
                    rows.iter()
                        .map(|r| {
                            format!(
                                "{:<16} {}",
                                r["name"].as_str().unwrap_or(""),
                                r["address"].as_str().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
        KeysCommand::Show {
            name,
            reveal_secret,
        } => {
            let key = keystore.load(&name)?;
            let secret = reveal_secret.then(|| hex::encode(key.key.to_bytes()));
            out.print(
                &json!({"name": key.name, "address": key.address(), "secret_key": secret}),
                || match &secret {
                    Some(s) => format!(
                        "name:       {}\naddress:    {}\nsecret key: {s}",
                        key.name,
                        key.address()
                    ),
                    None => format!("name:    {}\naddress: {}", key.name, key.address()),
                },
            );
        }
    }
    Ok(())
}
