//! Creating a node home: genesis, node settings and the validator key.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use causeway_core::{Address, Amount, AssetId, ChainId, UnixMillis};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::api::AccountState;
use crate::bridge::{BridgeConfig, BridgeState};
use crate::config::NodeConfig;
use crate::error::DevchainError;
use crate::state::State;
use crate::tx::{address_of, public_key_of};

pub const GENESIS_FILE: &str = "genesis.json";
pub const CONFIG_FILE: &str = "node.toml";
pub const VALIDATOR_KEY_FILE: &str = "validator.key";
pub const DB_DIR: &str = "db";
pub const RPC_ADDR_FILE: &str = "rpc.addr";
/// Genesis is read whole into memory; this keeps it small.
pub const MAX_GENESIS_ACCOUNTS: usize = 100_000;

#[derive(Clone, Debug)]
pub struct InitOptions {
    pub chain_id: ChainId,
    pub rpc_addr: SocketAddr,
    pub block_interval_ms: u64,
    pub accounts: Vec<GenesisAccount>,
    pub force: bool,
    /// Bridge configuration; without it the chain's bridge refuses everything.
    pub bridge: Option<BridgeConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub address: Address,
    pub balances: BTreeMap<AssetId, Amount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: ChainId,
    /// Time of block 0; every later block is strictly later.
    pub genesis_time_ms: UnixMillis,
    /// Hex Ed25519 public keys allowed to propose blocks (this node uses the first).
    pub validators: Vec<Address>,
    /// Every asset that can ever hold a balance on this chain.
    pub assets: BTreeSet<AssetId>,
    pub accounts: Vec<GenesisAccount>,
    /// Absent from chains without a bridge, so their genesis hash is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeConfig>,
}

impl Genesis {
    /// Checks what a hand-edited genesis could get wrong, naming the field.
    pub fn validate(&self) -> Result<(), DevchainError> {
        let invalid =
            |field: String, reason: String| DevchainError::InvalidGenesis { field, reason };
        if self.validators.is_empty() {
            return Err(invalid(
                "validators".into(),
                "is empty; list at least one validator public key".into(),
            ));
        }
        for (i, validator) in self.validators.iter().enumerate() {
            if public_key_of(validator).is_none() {
                return Err(invalid(
                    format!("validators[{i}]"),
                    format!("{validator} is not a hex Ed25519 public key (64 hex digits)"),
                ));
            }
        }
        if self.accounts.len() > MAX_GENESIS_ACCOUNTS {
            return Err(invalid(
                "accounts".into(),
                format!(
                    "has {} entries, over the limit of {MAX_GENESIS_ACCOUNTS}",
                    self.accounts.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut supply: BTreeMap<&AssetId, Amount> = BTreeMap::new();
        for (i, account) in self.accounts.iter().enumerate() {
            if public_key_of(&account.address).is_none() {
                return Err(invalid(
                    format!("accounts[{i}].address"),
                    format!(
                        "{} is not a hex Ed25519 public key (64 hex digits)",
                        account.address
                    ),
                ));
            }
            if !seen.insert(&account.address) {
                return Err(invalid(
                    format!("accounts[{i}].address"),
                    format!(
                        "{} is listed twice; merge its balances into one entry",
                        account.address
                    ),
                ));
            }
            for (asset, amount) in &account.balances {
                if !self.assets.contains(asset) {
                    return Err(invalid(
                        format!("accounts[{i}].balances.{asset}"),
                        format!("names asset {asset}, which is not in `assets`"),
                    ));
                }
                let total = supply.entry(asset).or_default();
                *total = total.checked_add(*amount).ok_or_else(|| {
                    invalid(
                        format!("accounts[{i}].balances.{asset}"),
                        "makes the asset's total supply overflow 2^128-1".into(),
                    )
                })?;
            }
        }
        if let Some(bridge) = &self.bridge {
            bridge
                .validate(&self.chain_id)
                .map_err(|reason| invalid("bridge".into(), reason))?;
            if let Some(route) = bridge
                .routes
                .iter()
                .find(|r| !self.assets.contains(&r.asset))
            {
                return Err(invalid(
                    "bridge.routes".into(),
                    format!("route asset {} is not in `assets`", route.asset),
                ));
            }
            for wrapped in &bridge.wrapped {
                // Wrapped supply starts at zero: a funded wrapped asset would be unbacked.
                if !self.assets.contains(&wrapped.asset) || supply.contains_key(&wrapped.asset) {
                    return Err(invalid(
                        "bridge.wrapped".into(),
                        format!(
                            "wrapped asset {} must be in `assets` and held by no genesis account",
                            wrapped.asset
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The state before block 1.
    pub fn initial_state(&self) -> State {
        let mut state = State::new(self.chain_id.clone(), self.assets.clone());
        for account in &self.accounts {
            let balances = account
                .balances
                .iter()
                .filter(|(_, amount)| !amount.is_zero())
                .map(|(asset, amount)| (asset.clone(), *amount))
                .collect();
            state
                .accounts
                .insert(account.address.clone(), AccountState { nonce: 0, balances });
        }
        state.bridge = self.bridge.clone().map(BridgeState::new);
        state
    }
}

/// Creates a node home (see the module docs of [`crate`] and `specs/devchain.md` §2).
pub fn init_home(home: &Path, opts: InitOptions) -> Result<Genesis, DevchainError> {
    let config = NodeConfig::new(opts.rpc_addr, opts.block_interval_ms);
    config.validate()?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let genesis = Genesis {
        chain_id: opts.chain_id,
        genesis_time_ms: crate::clock::now_ms(),
        validators: vec![address_of(&key.verifying_key())],
        assets: opts
            .accounts
            .iter()
            .flat_map(|a| a.balances.keys().cloned())
            .chain(bridge_assets(opts.bridge.as_ref()))
            .collect(),
        accounts: opts.accounts,
        bridge: opts.bridge,
    };
    // Validate before touching the disk: a refused `--force` must not delete the old chain.
    genesis.validate()?;
    let occupied = [GENESIS_FILE, CONFIG_FILE, VALIDATOR_KEY_FILE, DB_DIR]
        .iter()
        .any(|name| home.join(name).exists());
    if occupied {
        if !opts.force {
            return Err(DevchainError::HomeExists {
                path: home.to_path_buf(),
            });
        }
        remove_previous_chain(home)?;
    }
    let genesis_path = home.join(GENESIS_FILE);
    fs::create_dir_all(home).map_err(DevchainError::io("create the home directory", home))?;
    write_secret(&home.join(VALIDATOR_KEY_FILE), &hex::encode(key.to_bytes()))?;
    let genesis_json = serde_json::to_string_pretty(&genesis)
        .map_err(DevchainError::parse("JSON", &genesis_path))?;
    write_file(&genesis_path, &genesis_json)?;
    let config_path = home.join(CONFIG_FILE);
    let config_toml =
        toml::to_string(&config).map_err(DevchainError::parse("TOML", &config_path))?;
    write_file(&config_path, &config_toml)?;
    Ok(genesis)
}

/// Wrapped assets can only be minted here if genesis declares them.
fn bridge_assets(bridge: Option<&BridgeConfig>) -> Vec<AssetId> {
    bridge.map_or_else(Vec::new, |b| {
        b.wrapped.iter().map(|w| w.asset.clone()).collect()
    })
}

/// `--force` starts a new chain: the old chain's data must not outlive its genesis.
fn remove_previous_chain(home: &Path) -> Result<(), DevchainError> {
    let db = home.join(DB_DIR);
    if db.exists() {
        fs::remove_dir_all(&db).map_err(DevchainError::io("remove the old database", &db))?;
    }
    for file in [GENESIS_FILE, CONFIG_FILE, VALIDATOR_KEY_FILE, RPC_ADDR_FILE] {
        let path = home.join(file);
        if path.exists() {
            fs::remove_file(&path).map_err(DevchainError::io("remove", &path))?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<(), DevchainError> {
    fs::write(path, text).map_err(DevchainError::io("write", path))
}

/// Written owner-only from the first byte: the key is never readable by others, not even briefly.
fn write_secret(path: &Path, text: &str) -> Result<(), DevchainError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(DevchainError::io("create", path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(DevchainError::io("write", path))
}

/// Everything a node reads from its home at start.
pub(crate) struct HomeFiles {
    pub genesis: Genesis,
    pub config: NodeConfig,
    pub key: SigningKey,
}

fn read_required(home: &Path, name: &str) -> Result<(PathBuf, String), DevchainError> {
    let path = home.join(name);
    if !path.exists() {
        return Err(DevchainError::NotInitialized {
            home: home.to_path_buf(),
            missing: path,
        });
    }
    let text = fs::read_to_string(&path).map_err(DevchainError::io("read", &path))?;
    Ok((path, text))
}

pub(crate) fn read_home(home: &Path) -> Result<HomeFiles, DevchainError> {
    let (path, text) = read_required(home, GENESIS_FILE)?;
    let genesis: Genesis =
        serde_json::from_str(&text).map_err(DevchainError::parse("JSON", path))?;
    genesis.validate()?;
    let (path, text) = read_required(home, CONFIG_FILE)?;
    let config: NodeConfig = toml::from_str(&text).map_err(DevchainError::parse("TOML", path))?;
    let (path, text) = read_required(home, VALIDATOR_KEY_FILE)?;
    let key_error = |reason: String| DevchainError::ValidatorKey {
        path: path.clone(),
        reason,
    };
    let mut secret = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut secret).map_err(|_| {
        key_error("must hold the 32-byte Ed25519 secret key as 64 hex digits".into())
    })?;
    let key = SigningKey::from_bytes(&secret);
    let address = address_of(&key.verifying_key());
    if genesis.validators.first() != Some(&address) {
        return Err(key_error(format!(
            "belongs to {address}, which is not the first validator in {GENESIS_FILE}; restore the home's own key"
        )));
    }
    Ok(HomeFiles {
        genesis,
        config,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(force: bool) -> InitOptions {
        let holder = address_of(&SigningKey::from_bytes(&[3; 32]).verifying_key());
        InitOptions {
            chain_id: ChainId::new("dev-a").unwrap(),
            rpc_addr: "127.0.0.1:0".parse().unwrap(),
            block_interval_ms: 50,
            accounts: vec![GenesisAccount {
                address: holder,
                balances: [(AssetId::new("USD").unwrap(), Amount(100))].into(),
            }],
            force,
            bridge: None,
        }
    }

    #[test]
    fn init_writes_a_readable_home_and_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let genesis = init_home(dir.path(), options(false)).unwrap();
        assert_eq!(genesis.assets.len(), 1);
        let files = read_home(dir.path()).unwrap();
        assert_eq!(files.genesis, genesis);
        assert_eq!(files.config.block_interval_ms, 50);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(VALIDATOR_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = init_home(dir.path(), options(false)).unwrap_err();
        assert!(matches!(err, DevchainError::HomeExists { .. }), "{err}");
        let again = init_home(dir.path(), options(true)).unwrap();
        assert_ne!(
            again.validators, genesis.validators,
            "force must make a new validator key"
        );
    }

    #[test]
    fn genesis_rejects_bad_addresses_duplicates_and_overflow_naming_the_field() {
        let mut genesis = Genesis {
            chain_id: ChainId::new("c").unwrap(),
            genesis_time_ms: 1,
            validators: vec![address_of(
                &SigningKey::from_bytes(&[1; 32]).verifying_key(),
            )],
            assets: [AssetId::new("USD").unwrap()].into(),
            accounts: options(false).accounts,
            bridge: None,
        };
        genesis.validate().unwrap();
        // specs/devchain.md §13.1: a wrapped asset funded at genesis would be unbacked.
        let usd = AssetId::new("USD").unwrap();
        let other = ChainId::new("other").unwrap();
        let mut bridged = genesis.clone();
        bridged.bridge = Some(BridgeConfig {
            committee_id: causeway_core::Hash32([3; 32]),
            group_key: causeway_notary::GroupKey(
                SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes(),
            ),
            key_epoch: 1,
            routes: vec![crate::bridge::BridgeRoute {
                asset: usd.clone(),
                dest_chain: other.clone(),
                dest_asset: usd.clone(),
            }],
            wrapped: vec![],
        });
        bridged.validate().unwrap();
        if let Some(config) = bridged.bridge.as_mut() {
            config.wrapped.push(crate::bridge::WrappedAsset {
                asset: usd.clone(),
                origin_chain: other,
                origin_asset: usd,
            });
        }
        assert!(matches!(
            bridged.validate(),
            Err(DevchainError::InvalidGenesis { field, .. }) if field == "bridge.wrapped"
        ));
        let mut dup = genesis.clone();
        dup.accounts.push(dup.accounts[0].clone());
        assert!(dup
            .validate()
            .unwrap_err()
            .to_string()
            .contains("accounts[1].address"));
        let mut overflow = dup.clone();
        overflow.accounts[1].address =
            address_of(&SigningKey::from_bytes(&[4; 32]).verifying_key());
        overflow.accounts[1]
            .balances
            .insert(AssetId::new("USD").unwrap(), Amount(u128::MAX));
        assert!(overflow
            .validate()
            .unwrap_err()
            .to_string()
            .contains("overflow"));
        genesis.accounts[0].address = Address::new("nothex").unwrap();
        assert!(genesis
            .validate()
            .unwrap_err()
            .to_string()
            .contains("accounts[0].address"));
    }

    #[test]
    fn opening_an_empty_directory_says_to_run_init() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_home(dir.path()).err().unwrap().to_string();
        assert!(err.contains("causeway devchain init"), "{err}");
    }

    // specs/devchain.md §2: an invalid genesis is refused before anything is deleted.
    #[test]
    fn a_refused_forced_init_keeps_the_old_chain() {
        let dir = tempfile::tempdir().unwrap();
        let old = init_home(dir.path(), options(false)).unwrap();
        let mut bad = options(true);
        bad.accounts[0].address = Address::new("nothex").unwrap();
        assert!(matches!(
            init_home(dir.path(), bad),
            Err(DevchainError::InvalidGenesis { .. })
        ));
        assert_eq!(read_home(dir.path()).unwrap().genesis, old);
    }
}
