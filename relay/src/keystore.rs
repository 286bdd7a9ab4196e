//! Local Ed25519 keys, one JSON file per key, readable by the owner only.

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
        let path = self.path_of(name)?;
        create_private_dir(&self.dir)?;
        let file = KeyFile {
            name: name.to_string(),
            scheme: "ed25519".into(),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            secret_key: hex::encode(key.to_bytes()),
        };
        let mut f = open_private_new(&path).with_context(|| {
            format!(
                "cannot create key file {} (does a key named {name:?} exist already? `causeway keys list`)",
                path.display()
            )
        })?;
        f.write_all(serde_json::to_string_pretty(&file)?.as_bytes())?;
        f.sync_all()?;
        Ok(StoredKey {
            name: name.to_string(),
            key,
        })
    }

    pub fn load(&self, name: &str) -> Result<StoredKey> {
        let path = self.path_of(name)?;
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "no key named {name:?} in {} (create it with `causeway keys new {name}` or pass --keystore)",
                self.dir.display()
            )
        })?;
        let file: KeyFile = serde_json::from_str(&text)
            .with_context(|| format!("key file {} is corrupt", path.display()))?;
        if file.scheme != "ed25519" {
            bail!(
                "key file {} has scheme {:?}; only ed25519 is supported",
                path.display(),
                file.scheme
            );
        }
        let mut secret = [0u8; 32];
        hex::decode_to_slice(&file.secret_key, &mut secret).with_context(|| {
            format!(
                "key file {}: secret_key is not 64 hex digits",
                path.display()
            )
        })?;
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
