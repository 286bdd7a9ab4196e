use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::Output;
use crate::keystore::{KeyScheme, Keystore};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a new key. Its address is its Ed25519 public key, or for `--scheme
    /// secp256k1` (EVM chains) its 0x address.
    New {
        /// Name to refer to the key by, e.g. alice.
        name: String,
        #[arg(long, value_enum, default_value_t)]
        scheme: KeyScheme,
    },
    /// Store an existing secret key, e.g. one of anvil's well-known dev accounts.
    Import {
        name: String,
        #[arg(long, value_enum, default_value_t)]
        scheme: KeyScheme,
        /// The 32-byte secret as 64 hex digits (0x optional).
        #[arg(long)]
        secret: String,
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
        KeysCommand::New { name, scheme } => {
            let address = match scheme {
                KeyScheme::Ed25519 => keystore.create(&name)?.address(),
                KeyScheme::Secp256k1 => keystore.create_secp256k1(&name)?.address,
            };
            print_stored(out, keystore, &name, &address, "created");
        }
        KeysCommand::Import {
            name,
            scheme,
            secret,
        } => {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(secret.trim_start_matches("0x"), &mut bytes)
                .map_err(|_| anyhow::anyhow!("--secret must be 64 hex digits (32 bytes)"))?;
            let address = match scheme {
                KeyScheme::Ed25519 => keystore
                    .insert(&name, ed25519_dalek::SigningKey::from_bytes(&bytes))?
                    .address(),
                KeyScheme::Secp256k1 => keystore.insert_secp256k1(&name, bytes)?.address,
            };
            print_stored(out, keystore, &name, &address, "imported");
        }
        KeysCommand::List => {
            let mut rows = Vec::new();
            for name in keystore.names()? {
                let (_, address) = keystore.address_of(&name)?;
                rows.push(json!({"name": name, "address": address}));
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
            let (scheme, address) = keystore.address_of(&name)?;
            let secret = match (reveal_secret, scheme) {
                (false, _) => None,
                (true, KeyScheme::Ed25519) => {
                    Some(hex::encode(keystore.load(&name)?.key.to_bytes()))
                }
                (true, KeyScheme::Secp256k1) => {
                    Some(hex::encode(keystore.load_secp256k1(&name)?.secret))
                }
            };
            out.print(
                &json!({"name": name, "address": address, "secret_key": secret}),
                || match &secret {
                    Some(s) => {
                        format!("name:       {name}\naddress:    {address}\nsecret key: {s}")
                    }
                    None => format!("name:    {name}\naddress: {address}"),
                },
            );
        }
    }
    Ok(())
}

fn print_stored(
    out: Output,
    keystore: &Keystore,
    name: &str,
    address: &causeway_core::Address,
    verb: &str,
) {
    out.print(&json!({"name": name, "address": address}), || {
        format!(
            "{verb} key {name} with address {address}\nstored in {}",
            keystore.dir().display()
        )
    });
}
