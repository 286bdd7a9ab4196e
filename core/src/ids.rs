use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} {value:?} is invalid: {rule}")]
    Invalid {
        what: &'static str,
        value: String,
        rule: &'static str,
    },
}

macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok(Self(value))
                } else {
                    Err(IdError::Invalid { what: $what, value, rule: $rule })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_slug(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

validated_id!(
    /// A chain's identifier, unique within a deployment, e.g. `devchain-a` or `besu-7001`.
    ChainId,
    "chain id",
    "use 1-64 characters from [A-Za-z0-9._-]",
    |s| is_slug(s, 64)
);

validated_id!(
    /// An asset's symbol on one chain, e.g. `USD` or `wGOLD`.
    AssetId,
    "asset id",
    "use 1-32 characters from [A-Za-z0-9._-]",
    |s| is_slug(s, 32)
);

validated_id!(
    /// An account on some chain, in that chain's own text form (hex Ed25519 key on devchain,
    /// 0x-prefixed 20-byte address on EVM chains). Adapters validate the exact form.
    Address,
    "address",
    "use 1-128 characters from [A-Za-z0-9._:-]",
    |s| !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_empty_and_odd_characters_with_a_rule() {
        let err = ChainId::new("a b").unwrap_err();
        assert!(err.to_string().contains("[A-Za-z0-9._-]"), "{err}");
        assert!(AssetId::new("").is_err());
        assert!(AssetId::new("x".repeat(33)).is_err());
        assert!(Address::new("0xAbC").is_ok());
        assert!(serde_json::from_str::<ChainId>("\"a/b\"").is_err());
    }
}
