use std::collections::{BTreeMap, BTreeSet, VecDeque};

use causeway_core::Hash32;
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage};
use frost_ed25519::{Identifier, SigningPackage};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::attestation::{Attestation, AttestationError, GroupKey};
use crate::signing::coordinator::{CoordinatorRound, ShareOutcome};
use crate::signing::messages::{
    Refusal, RoundId, SessionFailure, SessionId, SignatureBytes, SigningMessage, SigningOutput,
};
use crate::signing::nonces::{NonceBook, NonceRecord, SignOutcome, MAX_NONCE_RECORDS};
use crate::signing::pool::{PoolViews, SignerPools, POOL_TARGET};
use crate::signing::schedule::{coordinator_for, coordinator_order};
use crate::transport::{member_label, Envelope};

/// Attempts (coordinators) tried before a session fails; each costs one timeout.
pub const MAX_ATTEMPTS: u32 = 32;
/// Rounds within one attempt; each new round excludes at least one cheater.
pub const MAX_ROUNDS_PER_ATTEMPT: u32 = 16;
/// Sessions open at once on one node.
pub const MAX_OPEN_SESSIONS: usize = 256;
/// Messages held for sessions this daemon has not started (vouched for) yet.
pub const MAX_BUFFERED_MESSAGES: usize = 1024;
/// Finished sessions remembered, so late messages for them are dropped quietly.
const MAX_FINISHED_REMEMBERED: usize = 1024;
/// The daemon's attempt timer: long enough for t round trips on a slow WAN link.
pub const SUGGESTED_ATTEMPT_TIMEOUT_MS: u64 = 10_000;

const SESSION_DOMAIN: &[u8] = b"CAUSEWAY-NOTARY-SESSION-V1";

/// The session id every member derives from the same attestation bytes.
pub fn session_id(message: &[u8]) -> SessionId {
    let mut h = Sha256::new();
    h.update(SESSION_DOMAIN);
    h.update(message);
    Hash32(h.finalize().into())
}

/// Local misuse by the daemon (peer misbehaviour is reported as outputs instead).
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("key package and public key package disagree: {what}; re-load both from the same DKG output")]
    InconsistentKeys { what: &'static str },
    #[error("group key is unusable: {0}")]
    GroupKey(AttestationError),
    #[error("refusing to sign: the message is not a valid attestation: {0}")]
    NotAnAttestation(AttestationError),
    #[error("{open} sessions are open (limit {max}); finish or drop some before starting more")]
    TooManySessions { open: usize, max: usize },
    #[error("{count} nonce records given to restore (limit {max})")]
    TooManyNonceRecords { count: usize, max: usize },
}

/// Rounds a coordinator began: from pooled commitments (one round trip, §5.1) or by asking
/// for commitments (two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundCounts {
    pub pooled: u64,
    pub commit_request: u64,
}

struct Session {
    message: Vec<u8>,
    order: Vec<Identifier>,
    attempt: u32,
    excluded: BTreeSet<Identifier>,
    coordinating: Option<CoordinatorRound>,
}

/// How a remembered session ended: a failed one may be started again (the daemon retries
/// it, specs/notary.md §4.4); a completed one never is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    Completed,
    Failed,
}

pub struct SigningNode<R> {
    key: KeyPackage,
    public: PublicKeyPackage,
    group_key: ed25519_dalek::VerifyingKey,
    members: Vec<Identifier>,
    rng: R,
    nonces: NonceBook,
    pools: SignerPools,
    views: PoolViews,
    rounds: RoundCounts,
    sessions: BTreeMap<SessionId, Session>,
    finished: VecDeque<(SessionId, Ended)>,
    buffered: VecDeque<(Identifier, SigningMessage)>,
}

impl<R: RngCore + CryptoRng> SigningNode<R> {
    /// `restored` are the nonce records the daemon persisted before a restart (empty on
    /// first start). `rng` must be a CSPRNG (`rand::rngs::OsRng` in production).
    pub fn new(
        key: KeyPackage,
        public: PublicKeyPackage,
        restored: Vec<NonceRecord>,
        rng: R,
    ) -> Result<Self, SigningError> {
        if key.verifying_key() != public.verifying_key() {
            return Err(SigningError::InconsistentKeys { what: "group key" });
        }
        if public.verifying_shares().get(key.identifier()) != Some(key.verifying_share()) {
            return Err(SigningError::InconsistentKeys {
                what: "this member's verifying share",
            });
        }
        let group_key = GroupKey::from_public_key_package(&public)
            .and_then(|k| k.check())
            .map_err(SigningError::GroupKey)?;
        let nonces =
            NonceBook::restore(restored).map_err(|count| SigningError::TooManyNonceRecords {
                count,
                max: MAX_NONCE_RECORDS,
            })?;
        Ok(SigningNode {
            members: public.verifying_shares().keys().copied().collect(),
            key,
            public,
            group_key,
            rng,
            nonces,
            pools: SignerPools::default(),
            views: PoolViews::default(),
            rounds: RoundCounts::default(),
            sessions: BTreeMap::new(),
            finished: VecDeque::new(),
            buffered: VecDeque::new(),
        })
    }

    pub fn identifier(&self) -> Identifier {
        *self.key.identifier()
    }

    pub fn threshold(&self) -> u16 {
        *self.key.min_signers()
    }

    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Call once at start (specs/notary.md §5.1): gives every other coordinator a batch of
    /// pooled commitments that voids what it held from before a restart, and asks every
    /// member, this one included, for a batch for this coordinator.
    pub fn announce_pools(&mut self) -> Vec<SigningOutput> {
        let me = self.identifier();
        let mut out = Vec::with_capacity(self.members.len());
        // This member's own pool comes from its answer to the request below, looped back.
        for coordinator in self.members.clone().into_iter().filter(|id| *id != me) {
            let commitments =
                self.pools
                    .generate(coordinator, POOL_TARGET, &self.key, &mut self.rng);
            out.push(SigningOutput::Send(Envelope::member(
                coordinator,
                SigningMessage::Pool {
                    restarted: true,
                    commitments,
                },
            )));
        }
        for member in self.members.clone() {
            self.views.void(member);
        }
        out.push(SigningOutput::Send(Envelope::everyone(
            SigningMessage::PoolRequest {
                want: POOL_TARGET as u16,
            },
        )));
        out
    }

    /// The daemon vouches for `message`: it has built these attestation bytes itself from
    /// events it saw final. Only started sessions are ever signed (specs/notary.md §4.2).
    pub fn start(&mut self, message: Vec<u8>) -> Result<Vec<SigningOutput>, SigningError> {
        Attestation::from_bytes(&message).map_err(SigningError::NotAnAttestation)?;
        let session = session_id(&message);
        match self.ended(&session) {
            _ if self.sessions.contains_key(&session) => return Ok(Vec::new()),
            Some(Ended::Completed) => return Ok(Vec::new()),
            // Fresh attempts draw fresh nonces: the failed run's records are gone (§5.5).
            Some(Ended::Failed) => self.finished.retain(|(s, _)| s != &session),
            None => {}
        }
        if self.sessions.len() >= MAX_OPEN_SESSIONS {
            return Err(SigningError::TooManySessions {
                open: self.sessions.len(),
                max: MAX_OPEN_SESSIONS,
            });
        }
        self.sessions.insert(
            session,
            Session {
                message,
                order: coordinator_order(&session, &self.members),
                attempt: 0,
                excluded: BTreeSet::new(),
                coordinating: None,
            },
        );
        let mut out = self.begin_attempt(session, 0);
        let (ready, waiting): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.buffered)
            .into_iter()
            .partition(|(_, m)| m.session() == Some(session));
        self.buffered = waiting;
        for (from, message) in ready {
            out.extend(self.receive(from, message));
        }
        Ok(out)
    }

    /// The attempt timer for `session` expired: move to the next coordinator.
    pub fn timeout(&mut self, session: SessionId) -> Vec<SigningOutput> {
        let Some(open) = self.sessions.get(&session) else {
            return Vec::new();
        };
        let next = open.attempt.saturating_add(1);
        // Pooled signers that never answered are down, lost what they pooled, or do not
        // vouch for this message: choose them for no pooled round until they sign again (§5.1).
        // A new batch is asked for so a restarted or recovered member is ready when it does.
        let silent = open
            .coordinating
            .as_ref()
            .map(CoordinatorRound::pooled_signers_pending)
            .unwrap_or_default();
        let mut out = Vec::new();
        for member in silent {
            self.views.suspect(member);
            out.push(SigningOutput::Send(Envelope::member(
                member,
                SigningMessage::PoolRequest {
                    want: POOL_TARGET as u16,
                },
            )));
        }
        out.extend(self.begin_attempt(session, next));
        out
    }

    /// A message from `from` (authenticated by the transport).
    pub fn receive(&mut self, from: Identifier, message: SigningMessage) -> Vec<SigningOutput> {
        let session = message.session();
        if !self.members.contains(&from) {
            return vec![SigningOutput::Refused {
                session,
                from,
                reason: Refusal::UnknownMember {
                    member: member_label(&from),
                },
            }];
        }
        // Pool messages belong to no session; all others wait for theirs to be vouched for.
        if let Some(session) = session {
            if self.ended(&session).is_some() {
                return Vec::new();
            }
            if !self.sessions.contains_key(&session) {
                if self.buffered.len() >= MAX_BUFFERED_MESSAGES {
                    return vec![refused(session, from, Refusal::NotVouched)];
                }
                self.buffered.push_back((from, message));
                return Vec::new();
            }
        }
        let result = match message {
            SigningMessage::CommitRequest { round } => self.on_commit_request(from, round),
            SigningMessage::Commitment { round, commitments } => {
                self.views.answered(&from);
                self.on_commitment(from, round, *commitments)
            }
            SigningMessage::SignRequest { round, package } => {
                self.on_sign_request(from, round, &package)
            }
            SigningMessage::Share { round, share } => {
                self.views.answered(&from);
                self.on_share(from, round, share)
            }
            SigningMessage::Result { session, signature } => self.on_result(session, signature),
            SigningMessage::Pool {
                restarted,
                commitments,
            } => self.on_pool(from, restarted, commitments),
            SigningMessage::PoolRequest { want } => self.on_pool_request(from, want),
        };
        result.unwrap_or_else(|reason| {
            vec![SigningOutput::Refused {
                session,
                from,
                reason,
            }]
        })
    }

    fn begin_attempt(&mut self, session_id: SessionId, attempt: u32) -> Vec<SigningOutput> {
        let me = self.identifier();
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return Vec::new();
        };
        if attempt >= MAX_ATTEMPTS {
            return self.fail(
                session_id,
                SessionFailure::AttemptsExhausted { attempts: attempt },
            );
        }
        session.attempt = attempt;
        session.coordinating = None;
        let Some(coordinator) = coordinator_for(&session.order, attempt) else {
            return Vec::new();
        };
        let mut out = vec![SigningOutput::AttemptStarted {
            session: session_id,
            attempt,
            coordinator,
        }];
        if coordinator == me {
            out.extend(self.begin_round(RoundId {
                session: session_id,
                attempt,
                round: 0,
            }));
        }
        out
    }

    fn begin_round(&mut self, round: RoundId) -> Vec<SigningOutput> {
        let threshold = self.threshold();
        let Some(session) = self.sessions.get_mut(&round.session) else {
            return Vec::new();
        };
        let honest = self.members.len() - session.excluded.len();
        if honest < usize::from(threshold) {
            return self.fail(
                round.session,
                SessionFailure::TooFewHonest { honest, threshold },
            );
        }
        if round.round >= MAX_ROUNDS_PER_ATTEMPT {
            // Unreachable while rounds only advance on exclusions, but bounded regardless.
            return self.begin_attempt(round.session, round.attempt.saturating_add(1));
        }
        // Only a session's first round is pooled: a retry (a timeout, a cheater, a restarted
        // signer) asks for commitments, which the first t members to vouch answer (§5.1).
        let first = round.attempt == 0 && round.round == 0;
        if let Some(out) = first.then(|| self.begin_pooled_round(round)).flatten() {
            self.rounds.pooled += 1;
            return out;
        }
        self.rounds.commit_request += 1;
        let Some(session) = self.sessions.get_mut(&round.session) else {
            return Vec::new();
        };
        session.coordinating = Some(CoordinatorRound::new(round));
        vec![SigningOutput::Send(Envelope::everyone(
            SigningMessage::CommitRequest { round },
        ))]
    }

    /// One round trip (§5.1): if t members that are not excluded, this coordinator first,
    /// have pooled commitments here, their package goes out at once. `None`: too few have,
    /// so the round asks for commitments instead.
    fn begin_pooled_round(&mut self, round: RoundId) -> Option<Vec<SigningOutput>> {
        let me = self.identifier();
        let threshold = usize::from(self.threshold());
        let session = self.sessions.get(&round.session)?;
        let signers: Vec<Identifier> = std::iter::once(me)
            .chain(session.order.iter().copied().filter(|id| *id != me))
            .filter(|id| !session.excluded.contains(id) && self.views.has(id))
            .take(threshold)
            .collect();
        if signers.len() < threshold {
            return None;
        }
        let commitments: BTreeMap<_, _> = signers
            .iter()
            .filter_map(|id| self.views.take(id).map(|c| (*id, c)))
            .collect();
        let package = SigningPackage::new(commitments, &session.message);
        let mut out: Vec<SigningOutput> = signers
            .iter()
            .map(|signer| {
                SigningOutput::Send(Envelope::member(
                    *signer,
                    SigningMessage::SignRequest {
                        round,
                        package: package.clone(),
                    },
                ))
            })
            .collect();
        for signer in &signers {
            if let Some(want) = self.views.top_up(signer) {
                out.push(SigningOutput::Send(Envelope::member(
                    *signer,
                    SigningMessage::PoolRequest { want: want as u16 },
                )));
            }
        }
        self.sessions.get_mut(&round.session)?.coordinating =
            Some(CoordinatorRound::pooled(round, package));
        Some(out)
    }

    fn on_pool(
        &mut self,
        from: Identifier,
        restarted: bool,
        commitments: Vec<frost_ed25519::round1::SigningCommitments>,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        check_pool_size(commitments.len())?;
        self.views.receive(from, restarted, commitments);
        if !restarted {
            return Ok(Vec::new());
        }
        // Its earlier nonces died with its process: pooled rounds still waiting on its share
        // never complete, so they start over now instead of at the attempt timeout.
        let doomed: Vec<RoundId> = self
            .sessions
            .values()
            .filter_map(|s| s.coordinating.as_ref())
            .filter(|c| c.pooled_signers_pending().contains(&from))
            .map(|c| c.round)
            .collect();
        let mut out = Vec::new();
        for round in doomed {
            out.extend(self.begin_round(RoundId {
                round: round.round + 1,
                ..round
            }));
        }
        Ok(out)
    }

    fn on_pool_request(
        &mut self,
        from: Identifier,
        want: u16,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        check_pool_size(usize::from(want))?;
        let commitments = self
            .pools
            .generate(from, usize::from(want), &self.key, &mut self.rng);
        Ok(vec![SigningOutput::Send(Envelope::member(
            from,
            SigningMessage::Pool {
                restarted: false,
                commitments,
            },
        ))])
    }

    fn on_commit_request(
        &mut self,
        from: Identifier,
        round: RoundId,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        let session = self.session(&round.session)?;
        check_coordinator(session, from, round.attempt)?;
        if round.attempt < session.attempt {
            return Err(Refusal::StaleAttempt {
                attempt: round.attempt,
                current: session.attempt,
            });
        }
        if round.attempt >= MAX_ATTEMPTS || round.round >= MAX_ROUNDS_PER_ATTEMPT {
            return Err(Refusal::BeyondBounds {
                attempt: round.attempt,
                round: round.round,
            });
        }
        let mut out = Vec::new();
        if round.attempt > session.attempt {
            // A peer's timer fired before ours: follow the legitimate later coordinator.
            out.extend(self.begin_attempt(round.session, round.attempt));
        }
        let reply = |commitments| {
            Envelope::member(
                from,
                SigningMessage::Commitment {
                    round,
                    commitments: Box::new(commitments),
                },
            )
        };
        match self.nonces.existing_commitment(&round) {
            Some(Ok(commitments)) => out.push(SigningOutput::Send(reply(commitments))),
            Some(Err(refusal)) => return Err(refusal),
            None => {
                let session = self
                    .sessions
                    .get(&round.session)
                    .ok_or(Refusal::NotCoordinating)?;
                let record =
                    self.nonces
                        .commit(round, &session.message, &self.key, &mut self.rng)?;
                let commitments = match &record.state {
                    crate::signing::NonceState::Committed { nonces } => *nonces.commitments(),
                    crate::signing::NonceState::Used { .. } => {
                        return Err(Refusal::NonceAlreadyUsed {
                            attempt: round.attempt,
                            round: round.round,
                        })
                    }
                };
                out.push(SigningOutput::PersistNonceThenSend {
                    record: Box::new(record),
                    envelope: reply(commitments),
                });
            }
        }
        Ok(out)
    }

    fn on_commitment(
        &mut self,
        from: Identifier,
        round: RoundId,
        commitments: frost_ed25519::round1::SigningCommitments,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        let threshold = self.threshold();
        let session = self
            .sessions
            .get_mut(&round.session)
            .ok_or(Refusal::NotCoordinating)?;
        if session.excluded.contains(&from) {
            return Err(Refusal::Excluded {
                member: member_label(&from),
            });
        }
        let coordinating = session
            .coordinating
            .as_mut()
            .filter(|c| c.round == round)
            .ok_or(Refusal::NotCoordinating)?;
        let Some(package) =
            coordinating.add_commitment(from, commitments, threshold, &session.message)
        else {
            return Ok(Vec::new());
        };
        Ok(package
            .signing_commitments()
            .keys()
            .map(|signer| {
                SigningOutput::Send(Envelope::member(
                    *signer,
                    SigningMessage::SignRequest {
                        round,
                        package: package.clone(),
                    },
                ))
            })
            .collect())
    }

    fn on_sign_request(
        &mut self,
        from: Identifier,
        round: RoundId,
        package: &SigningPackage,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        let session = self
            .sessions
            .get(&round.session)
            .ok_or(Refusal::NotCoordinating)?;
        check_coordinator(session, from, round.attempt)?;
        let signers = package.signing_commitments();
        if signers.len() < usize::from(self.threshold()) {
            return Err(Refusal::TooFewSigners {
                got: signers.len(),
                threshold: self.threshold(),
            });
        }
        if let Some(stranger) = signers.keys().find(|id| !self.members.contains(id)) {
            return Err(Refusal::UnknownMember {
                member: member_label(stranger),
            });
        }
        let reply = |share| Envelope::member(from, SigningMessage::Share { round, share });
        if !self.nonces.holds(&round) {
            return self.sign_pooled(from, round, package);
        }
        Ok(vec![match self
            .nonces
            .sign(round, package, &session.message, &self.key)?
        {
            SignOutcome::Fresh(record, share) => SigningOutput::PersistNonceThenSend {
                record,
                envelope: reply(share),
            },
            SignOutcome::Repeat(share) => SigningOutput::Send(reply(share)),
        }])
    }

    /// Signs with the nonces pooled for coordinator `from` (§5.1). They leave the pool before
    /// signing and were never on disk, so nothing needs persisting before the share leaves.
    fn sign_pooled(
        &mut self,
        from: Identifier,
        round: RoundId,
        package: &SigningPackage,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        let session = self.session(&round.session)?;
        if package.message().as_slice() != session.message {
            return Err(Refusal::DifferentMessage);
        }
        let mine = package
            .signing_commitment(&self.identifier())
            .ok_or(Refusal::CommitmentMismatch)?;
        let nonces = self
            .pools
            .take(from, &mine)
            .ok_or(Refusal::UnknownPooledCommitment)?;
        let share = frost_ed25519::round2::sign(package, &nonces, &self.key).map_err(|e| {
            Refusal::Frost {
                reason: e.to_string(),
            }
        })?;
        Ok(vec![SigningOutput::Send(Envelope::member(
            from,
            SigningMessage::Share { round, share },
        ))])
    }

    fn on_share(
        &mut self,
        from: Identifier,
        round: RoundId,
        share: frost_ed25519::round2::SignatureShare,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        let session = self
            .sessions
            .get_mut(&round.session)
            .ok_or(Refusal::NotCoordinating)?;
        let coordinating = session
            .coordinating
            .as_mut()
            .filter(|c| c.round == round)
            .ok_or(Refusal::NotCoordinating)?;
        match coordinating.add_share(from, share, &self.public)? {
            ShareOutcome::Waiting => Ok(Vec::new()),
            ShareOutcome::Invalid { culprit, reason } => {
                session.excluded.insert(culprit);
                let mut out = vec![SigningOutput::CheaterDetected {
                    round,
                    culprit,
                    reason,
                }];
                out.extend(self.begin_round(RoundId {
                    round: round.round + 1,
                    ..round
                }));
                Ok(out)
            }
            ShareOutcome::Complete(signature) => {
                let signature = SignatureBytes(signature);
                let mut out = self.complete(round.session, signature)?;
                out.push(SigningOutput::Send(Envelope::everyone(
                    SigningMessage::Result {
                        session: round.session,
                        signature,
                    },
                )));
                Ok(out)
            }
        }
    }

    fn on_result(
        &mut self,
        session: SessionId,
        signature: SignatureBytes,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        self.complete(session, signature)
    }

    /// Verifies the group signature over the session's message before finishing, so neither
    /// a faulty aggregation nor a forged `Result` ever completes a session.
    fn complete(
        &mut self,
        session_id: SessionId,
        signature: SignatureBytes,
    ) -> Result<Vec<SigningOutput>, Refusal> {
        let session = self.session(&session_id)?;
        self.group_key
            .verify_strict(
                &session.message,
                &ed25519_dalek::Signature::from_bytes(&signature.0),
            )
            .map_err(|_| Refusal::InvalidResult)?;
        let message = self
            .close(session_id, Ended::Completed)
            .map(|s| s.message)
            .unwrap_or_default();
        Ok(vec![SigningOutput::Completed {
            session: session_id,
            message,
            signature,
        }])
    }

    fn fail(&mut self, session: SessionId, reason: SessionFailure) -> Vec<SigningOutput> {
        self.close(session, Ended::Failed);
        vec![SigningOutput::Failed { session, reason }]
    }

    fn close(&mut self, session: SessionId, ended: Ended) -> Option<Session> {
        self.nonces.forget_session(&session);
        if self.finished.len() >= MAX_FINISHED_REMEMBERED {
            self.finished.pop_front();
        }
        self.finished.push_back((session, ended));
        self.sessions.remove(&session)
    }

    fn ended(&self, session: &SessionId) -> Option<Ended> {
        self.finished
            .iter()
            .find(|(s, _)| s == session)
            .map(|(_, ended)| *ended)
    }

    fn session(&self, session: &SessionId) -> Result<&Session, Refusal> {
        self.sessions.get(session).ok_or(Refusal::NotCoordinating)
    }

    /// Nonce records currently held (for status; the daemon's store is authoritative).
    pub fn nonce_records(&self) -> usize {
        self.nonces.len()
    }

    /// Secret nonces pooled for coordinators, and commitments pooled here by members (status).
    pub fn pooled(&self) -> (usize, usize) {
        (self.pools.len(), self.views.len())
    }

    /// Rounds this node has coordinated, by how they began (status).
    pub fn round_counts(&self) -> RoundCounts {
        self.rounds
    }
}

fn check_coordinator(session: &Session, from: Identifier, attempt: u32) -> Result<(), Refusal> {
    match coordinator_for(&session.order, attempt) {
        Some(expected) if expected == from => Ok(()),
        expected => Err(Refusal::NotCoordinator {
            claimed: member_label(&from),
            expected: expected.map(|e| member_label(&e)).unwrap_or_default(),
            attempt,
        }),
    }
}

fn refused(session: SessionId, from: Identifier, reason: Refusal) -> SigningOutput {
    SigningOutput::Refused {
        session: Some(session),
        from,
        reason,
    }
}

fn check_pool_size(got: usize) -> Result<(), Refusal> {
    if got > POOL_TARGET {
        return Err(Refusal::PoolTooLarge {
            got,
            max: POOL_TARGET,
        });
    }
    Ok(())
}
