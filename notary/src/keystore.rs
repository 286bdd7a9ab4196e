//! A member's key share at rest (specs/notary.md §10): Argon2id derives a key from the
//! operator's passphrase; XChaCha20-Poly1305 seals the share. The file is versioned JSON,
//! written atomically with mode 0600. This is the crate's only file I/O, on paths the
//! caller gives.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const KEYSTORE_VERSION: u32 = 1;
/// Bounds on Argon2id memory (KiB) accepted from a file, so a crafted file cannot make the
/// daemon allocate unbounded memory, and a weak one is refused.
pub const MIN_KDF_MEMORY_KIB: u32 = 8;
pub const MAX_KDF_MEMORY_KIB: u32 = 4 * 1024 * 1024;
pub const MAX_KDF_ITERATIONS: u32 = 64;
pub const MAX_KDF_PARALLELISM: u32 = 16;
/// Largest keystore file read (a 100-member public package is ~10 KB).
pub const MAX_KEYSTORE_FILE_BYTES: u64 = 1024 * 1024;
const SALT_BYTES: usize = 16;
const KEY_CHECK_DOMAIN: &[u8] = b"CAUSEWAY-KEYSTORE-PASSPHRASE-CHECK-V1";

/// What a member keeps secret between runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyShare {
    pub epoch: u64,
    pub key_package: KeyPackage,
    pub public_key_package: PublicKeyPackage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes) reduced to one lane
    /// for small operator machines.
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

/// The file, as stored. Everything but `ciphertext` is authenticated as associated data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreFile {
    pub version: u32,
    pub kdf: String,
    pub kdf_params: KdfParams,
    #[serde(with = "hex::serde")]
    pub salt: Vec<u8>,
    pub cipher: String,
    #[serde(with = "hex::serde")]
    pub nonce: Vec<u8>,
    /// SHA-256 of a domain tag and the derived key: tells a wrong passphrase apart from a
    /// damaged file. It lets an attacker test guesses no faster than the AEAD tag does.
    #[serde(with = "hex::serde")]
    pub key_check: Vec<u8>,
    /// Public, for operators: this member's identifier, the group key, the epoch.
    pub identifier: String,
    pub group_key: String,
    pub epoch: u64,
    #[serde(with = "hex::serde")]
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("wrong passphrase for key share file {path}")]
    WrongPassphrase { path: PathBuf },
    #[error(
        "key share file {path} is damaged or was tampered with ({reason}); restore it from backup"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "key share file {path} has version {found}; this build reads version {KEYSTORE_VERSION}"
    )]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("key derivation parameters {params:?} are outside the accepted bounds: {reason}")]
    KdfParams { params: KdfParams, reason: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the key share: {reason}")]
    Encode { reason: String },
}

/// Encrypts `share` under `passphrase` and writes it to `path` atomically (temporary file
/// in the same directory, fsync, rename, fsync directory), readable by the owner only.
pub fn save<R: RngCore + CryptoRng>(
    path: &Path,
    share: &KeyShare,
    passphrase: &str,
    params: KdfParams,
    rng: &mut R,
) -> Result<(), KeystoreError> {
    let file = seal(share, passphrase, params, rng)?;
    let text = serde_json::to_vec_pretty(&file).map_err(|e| KeystoreError::Encode {
        reason: e.to_string(),
    })?;
    write_atomically(path, &text)
}

pub fn load(path: &Path, passphrase: &str) -> Result<KeyShare, KeystoreError> {
    let len = fs::metadata(path).map_err(io_error("read", path))?.len();
    if len > MAX_KEYSTORE_FILE_BYTES {
        return Err(corrupt(
            path,
            format!("{len} bytes, more than {MAX_KEYSTORE_FILE_BYTES}"),
        ));
    }
    let text = fs::read(path).map_err(io_error("read", path))?;
    let file: KeystoreFile = serde_json::from_slice(&text)
        .map_err(|e| corrupt(path, format!("not a keystore JSON file: {e}")))?;
    open(path, &file, passphrase)
}

pub fn seal<R: RngCore + CryptoRng>(
    share: &KeyShare,
    passphrase: &str,
    params: KdfParams,
    rng: &mut R,
) -> Result<KeystoreFile, KeystoreError> {
    let mut salt = vec![0u8; SALT_BYTES];
    rng.fill_bytes(&mut salt);
    let mut nonce = vec![0u8; 24];
    rng.fill_bytes(&mut nonce);
    let key = derive_key(passphrase, &salt, params)?;
    let mut file = KeystoreFile {
        version: KEYSTORE_VERSION,
        kdf: "argon2id".into(),
        kdf_params: params,
        salt,
        cipher: "xchacha20poly1305".into(),
        nonce,
        key_check: key_check(&key).to_vec(),
        identifier: hex::encode(share.key_package.identifier().serialize()),
        group_key: share
            .public_key_package
            .verifying_key()
            .serialize()
            .map(hex::encode)
            .map_err(|e| KeystoreError::Encode {
                reason: e.to_string(),
            })?,
        epoch: share.epoch,
        ciphertext: Vec::new(),
    };
    let plaintext =
        Zeroizing::new(
            serde_json::to_vec(share).map_err(|e| KeystoreError::Encode {
                reason: e.to_string(),
            })?,
        );
    let aad = associated_data(&file)?;
    file.ciphertext = cipher(&key)
        .encrypt(
            XNonce::from_slice(&file.nonce),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| KeystoreError::Encode {
            reason: "encryption failed".into(),
        })?;
    Ok(file)
}

pub fn open(path: &Path, file: &KeystoreFile, passphrase: &str) -> Result<KeyShare, KeystoreError> {
    if file.version != KEYSTORE_VERSION {
        return Err(KeystoreError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: file.version,
        });
    }
    if file.kdf != "argon2id" || file.cipher != "xchacha20poly1305" {
        return Err(corrupt(
            path,
            format!("unknown algorithms {}/{}", file.kdf, file.cipher),
        ));
    }
    if file.salt.len() != SALT_BYTES || file.nonce.len() != 24 || file.key_check.len() != 32 {
        return Err(corrupt(
            path,
            "salt, nonce or key check has the wrong length".into(),
        ));
    }
    let key = derive_key(passphrase, &file.salt, file.kdf_params)?;
    if key_check(&key).as_slice() != file.key_check.as_slice() {
        return Err(KeystoreError::WrongPassphrase {
            path: path.to_path_buf(),
        });
    }
    let aad = associated_data(file)?;
    let plaintext = Zeroizing::new(
        cipher(&key)
            .decrypt(
                XNonce::from_slice(&file.nonce),
                Payload {
                    msg: &file.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                corrupt(
                    path,
                    "authentication failed with the right passphrase".into(),
                )
            })?,
    );
    let share: KeyShare =
        serde_json::from_slice(&plaintext).map_err(|e| corrupt(path, e.to_string()))?;
    if share.epoch != file.epoch {
        return Err(corrupt(path, "sealed epoch differs from the header".into()));
    }
    Ok(share)
}

fn derive_key(
    passphrase: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let bad = |reason: &str| KeystoreError::KdfParams {
        params,
        reason: reason.into(),
    };
    if !(MIN_KDF_MEMORY_KIB..=MAX_KDF_MEMORY_KIB).contains(&params.memory_kib)
        || !(1..=MAX_KDF_ITERATIONS).contains(&params.iterations)
        || !(1..=MAX_KDF_PARALLELISM).contains(&params.parallelism)
    {
        return Err(bad("memory, iterations or parallelism out of range"));
    }
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| bad(&e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| bad(&e.to_string()))?;
    Ok(key)
}

fn key_check(key: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(KEY_CHECK_DOMAIN);
    h.update(key);
    h.finalize().into()
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key))
}

/// The header fields (all but the ciphertext), so changing any of them fails decryption.
fn associated_data(file: &KeystoreFile) -> Result<Vec<u8>, KeystoreError> {
    let header = KeystoreFile {
        ciphertext: Vec::new(),
        ..file.clone()
    };
    serde_json::to_vec(&header).map_err(|e| KeystoreError::Encode {
        reason: e.to_string(),
    })
}

fn corrupt(path: &Path, reason: String) -> KeystoreError {
    KeystoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KeystoreError {
    let path = path.to_path_buf();
    move |source| KeystoreError::Io {
        action,
        path,
        source,
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    let io = io_error;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp).map_err(io("create", &temp))?;
    #[cfg(unix)]
    {
        // `mode` only applies to newly created files; a stale temp file keeps its own.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io("chmod", &temp))?;
    }
    file.write_all(bytes).map_err(io("write", &temp))?;
    file.sync_all().map_err(io("sync", &temp))?;
    drop(file);
    fs::rename(&temp, path).map_err(io("rename into", path))?;
    if let Ok(d) = fs::File::open(dir) {
        d.sync_all().map_err(io("sync directory", dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn share() -> KeyShare {
        let (keys, public) = crate::signing::tests::dealer_keys(3, 2, 11);
        let key_package = keys.into_values().next().expect("a share");
        KeyShare {
            epoch: 1,
            key_package,
            public_key_package: public,
        }
    }

    fn saved(dir: &Path) -> PathBuf {
        let path = dir.join("share.json");
        save(
            &path,
            &share(),
            "correct horse",
            FAST,
            &mut StdRng::seed_from_u64(1),
        )
        .expect("save");
        path
    }

    // specs/notary.md §10: round trip, and the file is owner-only.
    #[test]
    fn saves_and_loads_with_owner_only_permissions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = saved(dir.path());
        assert_eq!(load(&path, "correct horse").expect("load"), share());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let text = fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&hex::encode(
            share().key_package.signing_share().serialize()
        )));
    }

    // specs/notary.md §10: wrong passphrase and damage are told apart.
    #[test]
    fn wrong_passphrase_and_corruption_are_distinct() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = saved(dir.path());
        assert!(matches!(
            load(&path, "wrong"),
            Err(KeystoreError::WrongPassphrase { .. })
        ));

        let mut file: KeystoreFile =
            serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        file.ciphertext[0] ^= 1;
        assert!(matches!(
            open(&path, &file, "correct horse"),
            Err(KeystoreError::Corrupt { .. })
        ));

        let mut file: KeystoreFile =
            serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        file.epoch = 2;
        assert!(matches!(
            open(&path, &file, "correct horse"),
            Err(KeystoreError::Corrupt { .. })
        ));
        file.epoch = 1;
        file.version = 2;
        assert!(matches!(
            open(&path, &file, "correct horse"),
            Err(KeystoreError::UnsupportedVersion { found: 2, .. })
        ));

        fs::write(&path, b"{ not json").expect("write");
        assert!(matches!(
            load(&path, "correct horse"),
            Err(KeystoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn absurd_kdf_parameters_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = saved(dir.path());
        let mut file: KeystoreFile =
            serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        file.kdf_params.memory_kib = u32::MAX;
        assert!(matches!(
            open(&path, &file, "correct horse"),
            Err(KeystoreError::KdfParams { .. })
        ));
    }
}
