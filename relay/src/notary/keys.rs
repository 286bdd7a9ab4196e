//! A member's long-term keys: the Ed25519 identity that signs its DKG statements and the
//! X25519 static key of its encrypted committee channel. Each lives in its own file,
//! readable by the owner only.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

const IDENTITY_FILE: &str = "identity.json";
const NOISE_FILE: &str = "noise.json";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    scheme: String,
    #[serde(with = "hex::serde")]
    secret: [u8; 32],
    #[serde(with = "hex::serde")]
    public: [u8; 32],
}

pub struct MemberKeys {
    pub identity: SigningKey,
    pub noise_secret: [u8; 32],
    pub noise_public: [u8; 32],
}

impl MemberKeys {
    /// Creates both keys in `dir`; refuses to overwrite existing ones.
    pub fn create(dir: &Path) -> Result<MemberKeys> {
        for name in [IDENTITY_FILE, NOISE_FILE] {
            if dir.join(name).exists() {
                bail!(
                    "{} already exists; this directory already holds a member's keys (use another --dir)",
                    dir.join(name).display()
                );
            }
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create key directory {}", dir.display()))?;
        let identity = SigningKey::generate(&mut rand::rngs::OsRng);
        let (noise_secret, noise_public) = causeway_transport::generate_keypair();
        write_key(
            &dir.join(IDENTITY_FILE),
            &KeyFile {
                scheme: "ed25519".into(),
                secret: identity.to_bytes(),
                public: identity.verifying_key().to_bytes(),
            },
        )?;
        write_key(
            &dir.join(NOISE_FILE),
            &KeyFile {
                scheme: "x25519".into(),
                secret: noise_secret,
                public: noise_public,
            },
        )?;
        Ok(MemberKeys {
            identity,
            noise_secret,
            noise_public,
        })
    }

    pub fn load(dir: &Path) -> Result<MemberKeys> {
        let id = read_key(&dir.join(IDENTITY_FILE), "ed25519")?;
        let identity = SigningKey::from_bytes(&id.secret);
        if identity.verifying_key().to_bytes() != id.public {
            bail!(
                "{}: the public key does not match the secret; the file is damaged",
                dir.join(IDENTITY_FILE).display()
            );
        }
        let noise = read_key(&dir.join(NOISE_FILE), "x25519")?;
        if causeway_transport::public_from_secret(&noise.secret)? != noise.public {
            bail!(
                "{}: the public key does not match the secret; the file is damaged",
                dir.join(NOISE_FILE).display()
            );
        }
        Ok(MemberKeys {
            identity,
            noise_secret: noise.secret,
            noise_public: noise.public,
        })
    }
}

fn write_key(path: &PathBuf, key: &KeyFile) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let text = serde_json::to_vec_pretty(key)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(&text)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn read_key(path: &Path, scheme: &str) -> Result<KeyFile> {
    let text = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {}; create this member's keys with `causeway notary init`",
            path.display()
        )
    })?;
    let key: KeyFile = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a member key file", path.display()))?;
    if key.scheme != scheme {
        bail!(
            "{} holds a {} key, expected {scheme}",
            path.display(),
            key.scheme
        );
    }
    Ok(key)
}
