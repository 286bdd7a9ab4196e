//! This relay's seat in the committee: its member number, checked against its own keys,
//! and the channel configuration that follows from the committee file.

use anyhow::{bail, Result};
use causeway_notary::committee::Committee;
use causeway_transport::{PeerSpec, TransportConfig};
use frost_ed25519::Identifier;

use super::config::NotaryConfig;
use super::keys::MemberKeys;

pub struct Seat {
    pub committee: Committee,
    pub member: u16,
    pub identifier: Identifier,
    pub keys: MemberKeys,
}

impl Seat {
    /// Loads the committee file and this member's keys, and checks they belong together.
    pub fn load(config: &NotaryConfig) -> Result<Seat> {
        let committee = config.load_committee()?;
        let keys = MemberKeys::load(&config.key_dir)?;
        let n = committee.config.members.len();
        let Some(entry) = committee
            .config
            .members
            .get(usize::from(config.member).wrapping_sub(1))
        else {
            bail!(
                "notary.member is {} but the committee file {} lists {n} members",
                config.member,
                config.committee.display()
            );
        };
        let identity = hex::encode(keys.identity.verifying_key().to_bytes());
        if !entry
            .identity_key
            .eq_ignore_ascii_case(identity.trim_start_matches("0x"))
        {
            bail!(
                "member #{} in {} has identity_key {} but {} holds {identity}; fix notary.member or the committee entry",
                config.member,
                config.committee.display(),
                entry.identity_key,
                config.key_dir.display()
            );
        }
        if committee.noise_keys.get(&config.member) != Some(&keys.noise_public) {
            bail!(
                "member #{} in {} has noise_key {} but {} holds {}; fix notary.member or the committee entry",
                config.member,
                config.committee.display(),
                entry.noise_key,
                config.key_dir.display(),
                hex::encode(keys.noise_public)
            );
        }
        let identifier = Identifier::try_from(config.member)
            .map_err(|e| anyhow::anyhow!("notary.member {}: {e}", config.member))?;
        Ok(Seat {
            committee,
            member: config.member,
            identifier,
            keys,
        })
    }

    pub fn transport_config(&self, listen: Option<&str>) -> TransportConfig {
        let members = &self.committee.config.members;
        let peers = members
            .iter()
            .enumerate()
            .map(|(i, m)| (i as u16 + 1, m))
            .filter(|(number, _)| *number != self.member)
            .map(|(number, m)| PeerSpec {
                number,
                noise_public: self.committee.noise_keys[&number],
                endpoint: m.endpoint.clone(),
            })
            .collect();
        TransportConfig {
            me: self.member,
            noise_secret: self.keys.noise_secret,
            listen: listen
                .map(str::to_string)
                .unwrap_or_else(|| members[usize::from(self.member) - 1].endpoint.clone()),
            peers,
        }
    }

    /// Member numbers of everyone else.
    pub fn peers(&self) -> Vec<u16> {
        (1..=self.committee.config.members.len() as u16)
            .filter(|n| *n != self.member)
            .collect()
    }

    pub fn operator_of(&self, number: u16) -> &str {
        self.committee
            .config
            .members
            .get(usize::from(number).wrapping_sub(1))
            .map(|m| m.operator.as_str())
            .unwrap_or("?")
    }
}

/// A FROST identifier back to its member number (identifiers are 1..=n here).
pub fn member_number(id: &Identifier, n: usize) -> Option<u16> {
    (1..=n as u16).find(|k| Identifier::try_from(*k).ok().as_ref() == Some(id))
}
