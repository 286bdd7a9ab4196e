//! Local keys, one JSON file per key, readable by the owner only: Ed25519 (devchain) or
//! secp256k1 (EVM chains), told apart by the file's `scheme`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use causeway_core::Address;
use causeway_devchain::tx::address_of;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

/// Longest key name accepted; names become file names.
const MAX_NAME_LEN: usize = 64;

const ED25519: &str = "ed25519";
const SECP256K1: &str = "secp256k1";

/// The signature scheme of a key: it decides which chains the key can sign for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyScheme {
    /// devchain accounts (the address is the public key).
    #[default]
    Ed25519,
    /// EVM accounts (the address is `0x` + 40 hex digits).
    Secp256k1,
}

/// A secp256k1 key for EVM chains.
pub struct EvmKey {
    pub name: String,
    pub secret: [u8; 32],
    pub address: Address,
}

impl std::fmt::Debug for EvmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        write!(f, "EvmKey({}, {})", self.name, self.address)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    name: String,
    scheme: String,
    public_key: String,
    secret_key: String,
}

pub struct Keystore {
    dir: PathBuf,
}

pub struct StoredKey {
    pub name: String,
    pub key: SigningKey,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        write!(f, "StoredKey({}, {})", self.name, self.address())
    }
}

impl StoredKey {
    pub fn address(&self) -> Address {
        address_of(&self.key.verifying_key())
    }
}

impl Keystore {
    pub fn open(dir: impl Into<PathBuf>) -> Keystore {
        Keystore { dir: dir.into() }
    }

    /// `$CAUSEWAY_KEYSTORE`, else `$HOME/.causeway/keys`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("CAUSEWAY_KEYSTORE") {
            return dir.into();
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
        Path::new(&home).join(".causeway").join("keys")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, name: &str) -> Result<PathBuf> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            bail!(
                "key name {name:?} is invalid: use 1-{MAX_NAME_LEN} characters from [A-Za-z0-9_-]"
            );
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Creates a fresh key; refuses to overwrite one that exists.
    pub fn create(&self, name: &str) -> Result<StoredKey> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        self.insert(name, key)
    }

    /// Stores a given key under `name`; refuses to overwrite one that exists.
    pub fn insert(&self, name: &str, key: SigningKey) -> Result<StoredKey> {
        self.write_key_file(KeyFile {
            name: name.to_string(),
            scheme: ED25519.into(),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            secret_key: hex::encode(key.to_bytes()),
        })?;
        Ok(StoredKey {
            name: name.to_string(),
            key,
        })
    }

    /// Creates a fresh secp256k1 (EVM) key; refuses to overwrite one that exists.
    pub fn create_secp256k1(&self, name: &str) -> Result<EvmKey> {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        // A random 32-byte string is a valid secp256k1 scalar except with probability ~2^-128.
        rand::rngs::OsRng.fill_bytes(&mut secret);
        self.insert_secp256k1(name, secret)
    }

    /// Stores a given secp256k1 secret (e.g. one of anvil's dev keys) under `name`.
    pub fn insert_secp256k1(&self, name: &str, secret: [u8; 32]) -> Result<EvmKey> {
        let address = causeway_adapters::evm::evm_address_of(&secret)
            .map_err(|e| anyhow::anyhow!("key {name:?}: {e}"))?;
        self.write_key_file(KeyFile {
            name: name.to_string(),
            scheme: SECP256K1.into(),
            public_key: address.to_string(),
            secret_key: hex::encode(secret),
        })?;
        Ok(EvmKey {
            name: name.to_string(),
            secret,
            address,
        })
    }

    fn write_key_file(&self, file: KeyFile) -> Result<()> {
        let name = file.name.as_str();
        let path = self.path_of(name)?;
        create_private_dir(&self.dir)?;
        let mut f = open_private_new(&path).with_context(|| {
            format!(
                "cannot create key file {} (does a key named {name:?} exist already? `causeway keys list`)",
                path.display()
            )
        })?;
        f.write_all(serde_json::to_string_pretty(&file)?.as_bytes())?;
        f.sync_all()?;
        Ok(())
    }

    fn read_key_file(&self, name: &str) -> Result<(PathBuf, KeyFile)> {
        let path = self.path_of(name)?;
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "no key named {name:?} in {} (create it with `causeway keys new {name}` or pass --keystore)",
                self.dir.display()
            )
        })?;
        let file: KeyFile = serde_json::from_str(&text)
            .with_context(|| format!("key file {} is corrupt", path.display()))?;
        Ok((path, file))
    }

    /// A secp256k1 key for signing on EVM chains.
    pub fn load_secp256k1(&self, name: &str) -> Result<EvmKey> {
        let (path, file) = self.read_key_file(name)?;
        if file.scheme != SECP256K1 {
            bail!(
                "key {name:?} is an {} key, but EVM chains need a secp256k1 key: create one with \
                 `causeway keys new NAME --scheme secp256k1`",
                file.scheme
            );
        }
        let secret = secret_bytes(&path, &file)?;
        let address = causeway_adapters::evm::evm_address_of(&secret)
            .map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()))?;
        if address.as_str() != file.public_key {
            bail!(
                "key file {}: public_key does not match secret_key; the file is corrupt",
                path.display()
            );
        }
        Ok(EvmKey {
            name: file.name,
            secret,
            address,
        })
    }

    /// A key's scheme and address, whatever its scheme.
    pub fn address_of(&self, name: &str) -> Result<(KeyScheme, Address)> {
        let (_, file) = self.read_key_file(name)?;
        if file.scheme == SECP256K1 {
            Ok((KeyScheme::Secp256k1, self.load_secp256k1(name)?.address))
        } else {
            Ok((KeyScheme::Ed25519, self.load(name)?.address()))
        }
    }

    pub fn load(&self, name: &str) -> Result<StoredKey> {
        let (path, file) = self.read_key_file(name)?;
        if file.scheme != ED25519 {
            bail!(
                "key {name:?} (file {}) has scheme {:?}; this needs an ed25519 key",
                path.display(),
                file.scheme
            );
        }
        let secret = secret_bytes(&path, &file)?;
        let key = SigningKey::from_bytes(&secret);
        if hex::encode(key.verifying_key().as_bytes()) != file.public_key {
            bail!(
                "key file {}: public_key does not match secret_key; the file is corrupt",
                path.display()
            );
        }
        Ok(StoredKey {
            name: file.name,
            key,
        })
    }

    /// Names of all keys, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.dir.display())),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

fn secret_bytes(path: &Path, file: &KeyFile) -> Result<[u8; 32]> {
    let mut secret = [0u8; 32];
    hex::decode_to_slice(&file.secret_key, &mut secret).with_context(|| {
        format!(
            "key file {}: secret_key is not 64 hex digits",
            path.display()
        )
    })?;
    Ok(secret)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create keystore {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn open_private_new(path: &Path) -> std::io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path().join("keys"));
        let created = ks.create("alice").unwrap();
        let loaded = ks.load("alice").unwrap();
        assert_eq!(created.address(), loaded.address());
        assert_eq!(ks.names().unwrap(), vec!["alice".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("keys/alice.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn existing_key_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path());
        let first = ks.create("bob").unwrap();
        assert!(ks.create("bob").is_err());
        assert_eq!(ks.load("bob").unwrap().address(), first.address());
    }

    #[test]
    fn bad_names_and_missing_keys_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path());
        assert!(ks
            .create("../evil")
            .unwrap_err()
            .to_string()
            .contains("invalid"));
        let err = format!("{:#}", ks.load("nobody").unwrap_err());
        assert!(err.contains("causeway keys new nobody"), "{err}");
    }

    #[test]
    fn secp256k1_keys_have_evm_addresses_and_are_not_ed25519_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path());
        // anvil's first dev account.
        let secret =
            hex::decode("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap()
                .try_into()
                .unwrap();
        let key = ks.insert_secp256k1("dev0", secret).unwrap();
        assert_eq!(
            key.address.as_str(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        assert_eq!(ks.load_secp256k1("dev0").unwrap().secret, secret);
        assert_eq!(ks.address_of("dev0").unwrap().0, KeyScheme::Secp256k1);
        assert!(format!("{:#}", ks.load("dev0").unwrap_err()).contains("ed25519"));
        ks.create("ed").unwrap();
        assert!(format!("{:#}", ks.load_secp256k1("ed").unwrap_err()).contains("secp256k1"));
        let fresh = ks.create_secp256k1("fresh").unwrap();
        assert_eq!(ks.address_of("fresh").unwrap().1, fresh.address);
    }

    #[test]
    fn tampered_key_file_is_reported_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open(dir.path());
        ks.create("carol").unwrap();
        let path = dir.path().join("carol.json");
        let text = fs::read_to_string(&path).unwrap();
        let mut file: KeyFile = serde_json::from_str(&text).unwrap();
        file.public_key = "00".repeat(32);
        fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
        assert!(format!("{:#}", ks.load("carol").unwrap_err()).contains("corrupt"));
    }
}
