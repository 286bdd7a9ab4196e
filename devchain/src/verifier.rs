//! Signature checks of submitted transactions, in batches (`specs/devchain.md` §4.1).
//!
//! Checking each submission's Ed25519 signature on its own was a fifth of a node's CPU
//! under load. Submissions hand their signature to one verifier thread instead, which
//! takes whatever has queued up since its last pass (at most [`MAX_VERIFY_BATCH`]) and
//! checks them with one batch equation: about half the cost per signature once a few
//! dozen are waiting. A lone submission is checked on its own at once, so nothing waits
//! for a batch to fill. A batch that fails is checked signature by signature, so each
//! submitter hears about its own signature only.
//!
//! Batch and single checks accept the same signatures, except ones built by the key's
//! own holder with a small-order component (cofactorless batch verification accepts some
//! of those at random). They can only admit that holder's own transactions, which its
//! key could sign properly anyway.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use tokio::sync::{mpsc, oneshot};

use crate::tx::{SignatureError, SignedTransaction};

/// Most signatures checked in one batch equation. Past a few dozen the saving per
/// signature hardly grows, while a failed batch costs its size in single checks.
pub const MAX_VERIFY_BATCH: usize = 64;
/// Submissions waiting for the verifier before new ones are turned away.
pub const MAX_QUEUED_SIGNATURES: usize = 8_192;

/// A transaction's signature, in the form the check takes.
pub struct SignatureCheck {
    pub key: VerifyingKey,
    pub signature: Signature,
    /// The signed bytes ([`crate::tx::Transaction::signing_bytes`]).
    pub message: Vec<u8>,
}

impl SignatureCheck {
    /// Parses the sender's key and the signature; `message` is the transaction's signing bytes.
    pub fn of(tx: &SignedTransaction, message: Vec<u8>) -> Result<SignatureCheck, SignatureError> {
        let (key, signature) = tx.key_and_signature()?;
        Ok(SignatureCheck {
            key,
            signature,
            message,
        })
    }

    /// The single check ([`SignedTransaction::verify`]'s rule): strict verification, or
    /// failing that the plain equation, which older clients' signatures may need.
    pub fn verify_alone(&self) -> bool {
        self.key
            .verify_strict(&self.message, &self.signature)
            .or_else(|_| self.key.verify(&self.message, &self.signature))
            .is_ok()
    }
}

/// Counters of the verifier, for `devchain_nodeStats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifierStats {
    /// Signatures checked.
    pub signatures: u64,
    /// Passes of the verifier (one batch equation, or one single check, each).
    pub batches: u64,
    /// Batches whose equation failed, so each of their signatures was checked alone.
    pub failed_batches: u64,
    /// The most signatures one pass checked.
    pub largest_batch: u64,
    /// Signatures waiting now (at most [`MAX_QUEUED_SIGNATURES`]).
    pub queued: usize,
    /// Submissions turned away because the queue was full.
    pub refused: u64,
}

struct Job {
    check: SignatureCheck,
    done: oneshot::Sender<bool>,
}

#[derive(Default)]
struct Counters {
    signatures: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    largest_batch: AtomicU64,
    queued: AtomicUsize,
    refused: AtomicU64,
}

/// Why a signature was not checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature does not verify")]
    Invalid,
    #[error(
        "the node has {MAX_QUEUED_SIGNATURES} signatures waiting to be checked; retry shortly"
    )]
    Busy,
    #[error("the node's signature verifier stopped")]
    Stopped,
}

/// The handle submissions use; the verifier thread stops when the last handle is dropped.
pub struct BatchVerifier {
    queue: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

impl BatchVerifier {
    /// Starts the verifier thread.
    pub fn start() -> std::io::Result<BatchVerifier> {
        let (verifier, jobs) = BatchVerifier::unstarted();
        let counters = verifier.counters.clone();
        std::thread::Builder::new()
            .name("devchain-verify".into())
            .spawn(move || run(jobs, &counters))?;
        Ok(verifier)
    }

    /// The handle and the queue a verifier thread would drain.
    fn unstarted() -> (BatchVerifier, mpsc::Receiver<Job>) {
        let (queue, jobs) = mpsc::channel(MAX_QUEUED_SIGNATURES);
        let counters = Arc::new(Counters::default());
        (BatchVerifier { queue, counters }, jobs)
    }

    /// Checks one signature, batched with whatever else is waiting.
    pub async fn verify(&self, check: SignatureCheck) -> Result<(), VerifyError> {
        let (done, verdict) = oneshot::channel();
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.queue.try_send(Job { check, done }) {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    VerifyError::Busy
                }
                mpsc::error::TrySendError::Closed(_) => VerifyError::Stopped,
            });
        }
        match verdict.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(VerifyError::Invalid),
            Err(_) => Err(VerifyError::Stopped),
        }
    }

    pub fn stats(&self) -> VerifierStats {
        self.counters.stats()
    }
}

impl Counters {
    fn stats(&self) -> VerifierStats {
        VerifierStats {
            signatures: self.signatures.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

fn run(mut jobs: mpsc::Receiver<Job>, counters: &Counters) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_VERIFY_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_VERIFY_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let n = batch.len();
        counters.queued.fetch_sub(n, Ordering::Relaxed);
        counters.signatures.fetch_add(n as u64, Ordering::Relaxed);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .largest_batch
            .fetch_max(n as u64, Ordering::Relaxed);
        let checks: Vec<&SignatureCheck> = batch.iter().map(|j| &j.check).collect();
        let verdict = verify_all(&checks);
        if verdict.batch_failed {
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        for (job, ok) in batch.drain(..).zip(verdict.valid) {
            // A submitter that went away needs no answer.
            let _ = job.done.send(ok);
        }
    }
}

/// What [`verify_all`] found.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether each signature verifies, in the order given.
    pub valid: Vec<bool>,
    /// The batch equation failed, so each signature was checked alone.
    pub batch_failed: bool,
}

/// Whether each signature verifies: one batch equation, or each alone if that fails.
pub fn verify_all(checks: &[&SignatureCheck]) -> Verdict {
    if checks.len() > 1 {
        let messages: Vec<&[u8]> = checks.iter().map(|c| c.message.as_slice()).collect();
        let signatures: Vec<Signature> = checks.iter().map(|c| c.signature).collect();
        let keys: Vec<VerifyingKey> = checks.iter().map(|c| c.key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return Verdict {
                valid: vec![true; checks.len()],
                batch_failed: false,
            };
        }
    }
    Verdict {
        valid: checks.iter().map(|c| c.verify_alone()).collect(),
        batch_failed: checks.len() > 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn check(seed: u8, valid: bool) -> SignatureCheck {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let message = format!("transaction {seed}").into_bytes();
        let signed = if valid {
            message.clone()
        } else {
            b"something else".to_vec()
        };
        SignatureCheck {
            key: key.verifying_key(),
            signature: key.sign(&signed),
            message,
        }
    }

    #[test]
    fn a_batch_of_valid_signatures_passes_in_one_equation() {
        let checks: Vec<_> = (0..10).map(|i| check(i, true)).collect();
        let refs: Vec<_> = checks.iter().collect();
        assert_eq!(
            verify_all(&refs),
            Verdict {
                valid: vec![true; 10],
                batch_failed: false
            }
        );
    }

    #[test]
    fn one_bad_signature_in_a_batch_refuses_only_its_own() {
        let checks: Vec<_> = (0..10).map(|i| check(i, i != 7)).collect();
        let refs: Vec<_> = checks.iter().collect();
        let verdict = verify_all(&refs);
        assert!(verdict.batch_failed);
        let expected: Vec<bool> = (0..10).map(|i| i != 7).collect();
        assert_eq!(verdict.valid, expected);
    }

    #[test]
    fn the_verifier_takes_what_queued_up_in_batches_of_at_most_max_verify_batch() {
        let (verifier, jobs) = BatchVerifier::unstarted();
        let total = MAX_VERIFY_BATCH + 36;
        let mut verdicts = Vec::new();
        for i in 0..total {
            let (done, verdict) = oneshot::channel();
            let bad = i == MAX_VERIFY_BATCH + 3;
            let job = Job {
                check: check(i as u8, !bad),
                done,
            };
            verifier.counters.queued.fetch_add(1, Ordering::Relaxed);
            verifier
                .queue
                .try_send(job)
                .map_err(|_| "queue full")
                .unwrap();
            verdicts.push((bad, verdict));
        }
        let BatchVerifier { queue, counters } = verifier;
        drop(queue);
        run(jobs, &counters);
        for (bad, mut verdict) in verdicts {
            assert_eq!(verdict.try_recv(), Ok(!bad));
        }
        let stats = counters.stats();
        assert_eq!(
            stats,
            VerifierStats {
                signatures: total as u64,
                batches: 2,
                failed_batches: 1,
                largest_batch: MAX_VERIFY_BATCH as u64,
                queued: 0,
                refused: 0,
            }
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_with_busy_and_counts_it() {
        let (verifier, _jobs) = BatchVerifier::unstarted();
        for i in 0..MAX_QUEUED_SIGNATURES {
            let (done, _) = oneshot::channel();
            let job = Job {
                check: check(i as u8, true),
                done,
            };
            verifier
                .queue
                .try_send(job)
                .map_err(|_| "queue full")
                .unwrap();
        }
        assert_eq!(
            verifier.verify(check(1, true)).await,
            Err(VerifyError::Busy)
        );
        assert_eq!(verifier.stats().refused, 1);
    }

    #[tokio::test]
    async fn concurrent_submissions_each_hear_their_own_verdict() {
        let verifier = Arc::new(BatchVerifier::start().unwrap());
        let tasks: Vec<_> = (0..100u8)
            .map(|i| {
                let verifier = verifier.clone();
                tokio::spawn(async move { verifier.verify(check(i, i % 9 != 4)).await })
            })
            .collect();
        for (i, task) in (0..100u8).zip(tasks) {
            let expected = if i % 9 != 4 {
                Ok(())
            } else {
                Err(VerifyError::Invalid)
            };
            assert_eq!(task.await.unwrap(), expected, "submission {i}");
        }
        assert_eq!(verifier.stats().signatures, 100);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// specs/devchain.md §6.1: a batch accepts exactly the signatures the single check
        /// accepts, whatever the mix.
        #[test]
        fn batch_verdicts_equal_single_verdicts(valid in proptest::collection::vec(any::<bool>(), 1..40)) {
            let checks: Vec<_> = valid.iter().enumerate().map(|(i, v)| check(i as u8, *v)).collect();
            let refs: Vec<_> = checks.iter().collect();
            let single: Vec<bool> = checks.iter().map(SignatureCheck::verify_alone).collect();
            prop_assert_eq!(&single, &valid);
            prop_assert_eq!(verify_all(&refs).valid, single);
        }
    }
}
