//! Distributed key generation as a sans-I/O state machine per member
//! (specs/notary.md §3): FROST's three DKG parts, with a signed echo broadcast of round 1
//! and a confirmed transcript hash before any key is accepted.

mod error;
mod messages;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use causeway_core::{sha256, Hash32};
use ed25519_dalek::{SigningKey, VerifyingKey};
use frost_ed25519::keys::dkg::{self as frost_dkg, round1, round2};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage};
use frost_ed25519::Identifier;
use rand_core::{CryptoRng, RngCore};

pub use error::DkgError;
use messages::{
    sign_confirm, sign_round1, transcript_hash, verify_confirm, verify_round1_statement,
};
pub use messages::{DkgMessage, EquivocationProof, SignedDigest};

use crate::transport::Envelope;

/// Largest committee a ceremony accepts (bounds every per-member map here).
pub const MAX_DKG_MEMBERS: usize = 255;

/// One ceremony's fixed setup, identical at every member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkgSetup {
    /// Unique per ceremony (e.g. SHA-256 of committee config and new epoch); binds every
    /// signed statement so none can be replayed into another ceremony.
    pub ceremony: Hash32,
    pub threshold: u16,
    /// Every member's FROST identifier and long-term identity key.
    pub members: BTreeMap<Identifier, VerifyingKey>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DkgOutput {
    /// To every member, including this one (the daemon loops its own copy back).
    Send(Envelope<DkgMessage>),
    /// To one member, **only over the encrypted channel**: it carries a secret share.
    SendSecret {
        to: Identifier,
        message: DkgMessage,
    },
    Completed(Box<DkgResult>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkgResult {
    pub key_package: KeyPackage,
    pub public_key_package: PublicKeyPackage,
    pub transcript_hash: Hash32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Round1,
    Echo,
    Round2,
    Confirm,
    Done,
}

pub struct DkgMember {
    setup: DkgSetup,
    me: Identifier,
    identity: SigningKey,
    phase: Phase,
    secret1: Option<round1::SecretPackage>,
    round1: BTreeMap<Identifier, (round1::Package, SignedDigest)>,
    echoes: BTreeMap<Identifier, BTreeMap<Identifier, SignedDigest>>,
    secret2: Option<round2::SecretPackage>,
    round2: BTreeMap<Identifier, round2::Package>,
    transcript: Option<Hash32>,
    keys: Option<(KeyPackage, PublicKeyPackage, Hash32)>,
    confirms: BTreeMap<Identifier, (Hash32, Hash32)>,
}

impl DkgMember {
    /// Starts this member's part of the ceremony; the outputs carry its signed round-1 package.
    pub fn start<R: RngCore + CryptoRng>(
        setup: DkgSetup,
        me: Identifier,
        identity: SigningKey,
        rng: &mut R,
    ) -> Result<(DkgMember, Vec<DkgOutput>), DkgError> {
        validate_setup(&setup, me, &identity)?;
        let n = setup.members.len() as u16;
        let (secret1, package) =
            frost_dkg::part1(me, n, setup.threshold, rng).map_err(|e| frost_error(None, e))?;
        let signed = sign_round1(&identity, &setup.ceremony, me, package_digest(&package)?);
        let member = DkgMember {
            setup,
            me,
            identity,
            phase: Phase::Round1,
            secret1: Some(secret1),
            round1: BTreeMap::new(),
            echoes: BTreeMap::new(),
            secret2: None,
            round2: BTreeMap::new(),
            transcript: None,
            keys: None,
            confirms: BTreeMap::new(),
        };
        let out = vec![DkgOutput::Send(Envelope::everyone(DkgMessage::Round1 {
            package,
            signature: signed.signature,
        }))];
        Ok((member, out))
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// A message from `from`, as authenticated by the transport. Any error aborts the
    /// ceremony: do not feed further messages after one.
    pub fn receive(
        &mut self,
        from: Identifier,
        message: DkgMessage,
    ) -> Result<Vec<DkgOutput>, DkgError> {
        let identity = *self
            .setup
            .members
            .get(&from)
            .ok_or(DkgError::UnknownMember { member: from })?;
        match message {
            DkgMessage::Round1 { package, signature } => {
                self.on_round1(from, &identity, package, signature)?
            }
            DkgMessage::Echo { received } => self.on_echo(from, received)?,
            DkgMessage::Round2 { package } => self.on_round2(from, package)?,
            DkgMessage::Confirm {
                transcript_hash,
                group_key,
                signature,
            } => {
                if !verify_confirm(
                    &identity,
                    &self.setup.ceremony,
                    from,
                    &transcript_hash,
                    &group_key,
                    &signature,
                ) {
                    return Err(DkgError::BadSignature {
                        member: from,
                        what: "confirmation",
                    });
                }
                insert_once(
                    &mut self.confirms,
                    from,
                    (transcript_hash, group_key),
                    "confirmation",
                )?;
            }
        }
        self.advance()
    }

    fn on_round1(
        &mut self,
        from: Identifier,
        identity: &VerifyingKey,
        package: round1::Package,
        signature: crate::signing::SignatureBytes,
    ) -> Result<(), DkgError> {
        let signed = SignedDigest {
            digest: package_digest(&package)?,
            signature,
        };
        if !verify_round1_statement(identity, &self.setup.ceremony, from, &signed) {
            return Err(DkgError::BadSignature {
                member: from,
                what: "round-1",
            });
        }
        if let Some((_, earlier)) = self.round1.get(&from) {
            if earlier.digest != signed.digest {
                return Err(self.equivocation(from, *earlier, signed));
            }
            return Ok(());
        }
        if self.phase != Phase::Round1 {
            return Err(DkgError::OutOfTurn {
                member: from,
                what: "a round-1 package",
            });
        }
        self.round1.insert(from, (package, signed));
        Ok(())
    }

    fn on_echo(
        &mut self,
        from: Identifier,
        received: Vec<(Identifier, SignedDigest)>,
    ) -> Result<(), DkgError> {
        if received.len() != self.setup.members.len() {
            return Err(DkgError::BadEcho { from, about: from });
        }
        let mut entries = BTreeMap::new();
        for (about, signed) in received {
            let identity = self
                .setup
                .members
                .get(&about)
                .ok_or(DkgError::BadEcho { from, about })?;
            // A forged entry is the echoer's fault, not the named member's.
            if !verify_round1_statement(identity, &self.setup.ceremony, about, &signed)
                || entries.insert(about, signed).is_some()
            {
                return Err(DkgError::BadEcho { from, about });
            }
        }
        insert_once(&mut self.echoes, from, entries, "echo")
    }

    fn on_round2(&mut self, from: Identifier, package: round2::Package) -> Result<(), DkgError> {
        if from == self.me {
            return Err(DkgError::OutOfTurn {
                member: from,
                what: "a round-2 package to itself",
            });
        }
        insert_once(&mut self.round2, from, package, "round-2 package")
    }

    /// Moves through every phase whose inputs are complete.
    fn advance(&mut self) -> Result<Vec<DkgOutput>, DkgError> {
        let mut out = Vec::new();
        let n = self.setup.members.len();
        loop {
            match self.phase {
                Phase::Round1 if self.round1.len() == n => out.push(self.send_echo()),
                Phase::Echo if self.echoes.len() == n => {
                    out.extend(self.check_echoes_and_send_round2()?)
                }
                Phase::Round2 if self.round2.len() == n - 1 => {
                    out.push(self.finish_keys_and_confirm()?)
                }
                Phase::Confirm if self.confirms.len() == n => out.push(self.accept()?),
                _ => return Ok(out),
            }
        }
    }

    fn send_echo(&mut self) -> DkgOutput {
        self.phase = Phase::Echo;
        let received = self
            .round1
            .iter()
            .map(|(id, (_, signed))| (*id, *signed))
            .collect();
        DkgOutput::Send(Envelope::everyone(DkgMessage::Echo { received }))
    }

    fn check_echoes_and_send_round2(&mut self) -> Result<Vec<DkgOutput>, DkgError> {
        for (from, entries) in &self.echoes {
            for (about, signed) in entries {
                let ours = self
                    .round1
                    .get(about)
                    .map(|(_, s)| *s)
                    .ok_or(DkgError::BadEcho {
                        from: *from,
                        about: *about,
                    })?;
                if ours.digest != signed.digest {
                    return Err(self.equivocation(*about, ours, *signed));
                }
            }
        }
        let view: BTreeMap<Identifier, SignedDigest> =
            self.round1.iter().map(|(id, (_, s))| (*id, *s)).collect();
        self.transcript = Some(transcript_hash(
            &self.setup.ceremony,
            self.setup.threshold,
            &view,
        ));
        let others = self.peers_round1();
        let secret1 = self.secret1.take().ok_or(DkgError::OutOfTurn {
            member: self.me,
            what: "round 2 twice",
        })?;
        let (secret2, packages) =
            frost_dkg::part2(secret1, &others).map_err(|e| frost_error(None, e))?;
        self.secret2 = Some(secret2);
        self.phase = Phase::Round2;
        Ok(packages
            .into_iter()
            .map(|(to, package)| DkgOutput::SendSecret {
                to,
                message: DkgMessage::Round2 { package },
            })
            .collect())
    }

    fn finish_keys_and_confirm(&mut self) -> Result<DkgOutput, DkgError> {
        let secret2 = self.secret2.take().ok_or(DkgError::OutOfTurn {
            member: self.me,
            what: "round 3 twice",
        })?;
        let others = self.peers_round1();
        let (key_package, public) =
            frost_dkg::part3(&secret2, &others, &self.round2).map_err(|e| frost_error(None, e))?;
        let group_key = group_key_bytes(&public)?;
        let transcript = self.transcript.ok_or(DkgError::OutOfTurn {
            member: self.me,
            what: "keys before transcript",
        })?;
        self.keys = Some((key_package, public, group_key));
        self.phase = Phase::Confirm;
        let signature = sign_confirm(
            &self.identity,
            &self.setup.ceremony,
            self.me,
            &transcript,
            &group_key,
        );
        Ok(DkgOutput::Send(Envelope::everyone(DkgMessage::Confirm {
            transcript_hash: transcript,
            group_key,
            signature,
        })))
    }

    fn accept(&mut self) -> Result<DkgOutput, DkgError> {
        let (key_package, public_key_package, group_key) =
            self.keys.clone().ok_or(DkgError::OutOfTurn {
                member: self.me,
                what: "accept before keys",
            })?;
        let transcript = self.transcript.ok_or(DkgError::OutOfTurn {
            member: self.me,
            what: "accept before transcript",
        })?;
        if let Some((member, _)) = self
            .confirms
            .iter()
            .find(|(_, c)| **c != (transcript, group_key))
        {
            return Err(DkgError::TranscriptMismatch { member: *member });
        }
        self.phase = Phase::Done;
        Ok(DkgOutput::Completed(Box::new(DkgResult {
            key_package,
            public_key_package,
            transcript_hash: transcript,
        })))
    }

    /// FROST's part2/part3 take every round-1 package but this member's own.
    fn peers_round1(&self) -> BTreeMap<Identifier, round1::Package> {
        self.round1
            .iter()
            .filter(|(id, _)| **id != self.me)
            .map(|(id, (p, _))| (*id, p.clone()))
            .collect()
    }

    fn equivocation(
        &self,
        member: Identifier,
        first: SignedDigest,
        second: SignedDigest,
    ) -> DkgError {
        DkgError::Equivocation {
            proof: Box::new(EquivocationProof {
                ceremony: self.setup.ceremony,
                member,
                first,
                second,
            }),
        }
    }
}

fn validate_setup(setup: &DkgSetup, me: Identifier, identity: &SigningKey) -> Result<(), DkgError> {
    let n = setup.members.len();
    let invalid = |reason: String| Err(DkgError::InvalidSetup { reason });
    if !(2..=MAX_DKG_MEMBERS).contains(&n) {
        return invalid(format!(
            "{n} members; a ceremony needs 2..={MAX_DKG_MEMBERS}"
        ));
    }
    if setup.threshold < 2 || usize::from(setup.threshold) > n {
        return invalid(format!("threshold {} must be in 2..={n}", setup.threshold));
    }
    if setup.ceremony.is_zero() {
        return invalid("ceremony id is zero; derive a unique one per ceremony".into());
    }
    if setup.members.get(&me) != Some(&identity.verifying_key()) {
        return invalid(
            "this member's identity key is not the one listed for its identifier".into(),
        );
    }
    Ok(())
}

fn insert_once<V: PartialEq>(
    map: &mut BTreeMap<Identifier, V>,
    from: Identifier,
    value: V,
    what: &'static str,
) -> Result<(), DkgError> {
    match map.get(&from) {
        Some(existing) if *existing == value => Ok(()),
        Some(_) => Err(DkgError::ConflictingMessage { member: from, what }),
        None => {
            map.insert(from, value);
            Ok(())
        }
    }
}

fn package_digest(package: &round1::Package) -> Result<Hash32, DkgError> {
    package
        .serialize()
        .map(|b| sha256(&b))
        .map_err(|e| frost_error(None, e))
}

fn group_key_bytes(public: &PublicKeyPackage) -> Result<Hash32, DkgError> {
    crate::attestation::GroupKey::from_public_key_package(public)
        .map(|key| Hash32(key.0))
        .map_err(|e| DkgError::Frost {
            culprit: None,
            reason: e.to_string(),
        })
}

fn frost_error(culprit: Option<Identifier>, e: frost_ed25519::Error) -> DkgError {
    DkgError::Frost {
        culprit: culprit.or_else(|| e.culprits().first().copied()),
        reason: e.to_string(),
    }
}
