use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative quantity of an asset in its smallest unit.
///
/// Serialized as a decimal string so that JSON clients in any language (JavaScript's
/// 53-bit numbers included) read it without loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u128);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "amount {s:?} is not a whole number of base units (digits only, e.g. 1000)"
            ));
        }
        s.parse::<u128>()
            .map(Amount)
            .map_err(|_| format!("amount {s:?} is larger than 2^128-1"))
    }
}

impl From<u128> for Amount {
    fn from(v: u128) -> Self {
        Amount(v)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(u64),
        }
        match Repr::deserialize(d)? {
            Repr::Text(s) => s.parse().map_err(serde::de::Error::custom),
            Repr::Number(n) => Ok(Amount(n as u128)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_round_trips_as_decimal_string() {
        let a = Amount(u128::MAX);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{}\"", u128::MAX));
        assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), a);
        assert_eq!(serde_json::from_str::<Amount>("42").unwrap(), Amount(42));
    }

    #[test]
    fn amount_rejects_signs_decimals_and_overflow() {
        for bad in [
            "-1",
            "1.5",
            "",
            "1e3",
            "340282366920938463463374607431768211456",
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad} accepted");
        }
    }
}
