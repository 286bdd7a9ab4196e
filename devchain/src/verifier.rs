//! Signature checks of submitted transactions, in batches (`specs/devchain.md` §6.1).
//!
//! Checking each submission's Ed25519 signature on its own was a fifth of a node's CPU
//! under load. Submissions that arrive while a check is running queue up instead, and the
//! next check takes them all (at most [`MAX_VERIFY_BATCH`]) in one batch equation: about
//! half the cost per signature once a few dozen are waiting. Nobody waits for a batch to
//! fill: a submission that finds no check running leads one at once, on its own request's
//! thread, for itself and whoever queues behind it (flat combining), and one that finds a
//! full batch waiting checks it beside the running one. So batches grow with the load,
//! while no more than about a batch waits for each thread that checks. A batch that fails is
//! checked signature by signature, so each submitter hears about its own signature only.
//!
//! Batch and single checks accept the same signatures, except ones built by the key's
//! own holder with a small-order component (cofactorless batch verification accepts some
//! of those at random). They can only admit that holder's own transactions, which its
//! key could sign properly anyway.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use tokio::sync::oneshot;

use crate::tx::{SignatureError, SignedTransaction};

/// Most signatures checked in one batch equation. Past a few dozen the saving per
/// signature hardly grows, while a failed batch costs its size in single checks and every
/// submission in it holds one of the node's connections until it is answered.
pub const MAX_VERIFY_BATCH: usize = 32;
/// Batches one submission's request runs before a task takes over the rest, so no request
/// waits on a long queue of others' checks.
pub const MAX_BATCHES_PER_LEADER: usize = 4;
/// Submissions waiting for a check before new ones are turned away.
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
    /// Checks run (one batch equation, or one single check, each).
    pub batches: u64,
    /// Batches whose equation failed, so each of their signatures was checked alone.
    pub failed_batches: u64,
    /// The most signatures one check took.
    pub largest_batch: u64,
    /// Signatures waiting now (at most [`MAX_QUEUED_SIGNATURES`]).
    pub queued: usize,
    /// Submissions turned away because the queue was full.
    pub refused: u64,
}

/// Why a signature was not found valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature does not verify")]
    Invalid,
    #[error(
        "the node has {MAX_QUEUED_SIGNATURES} signatures waiting to be checked; retry shortly"
    )]
    Busy,
}

struct Job {
    check: SignatureCheck,
    done: oneshot::Sender<bool>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Submissions (or tasks they handed over to) running checks now.
    leaders: usize,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    signatures: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    largest_batch: AtomicU64,
    refused: AtomicU64,
}

/// The node's signature checks; cheap to share.
#[derive(Default)]
pub struct BatchVerifier {
    inner: Arc<Inner>,
}

impl BatchVerifier {
    pub fn new() -> BatchVerifier {
        BatchVerifier::default()
    }

    /// Checks one signature, in one batch with whatever queued up meanwhile.
    pub async fn verify(&self, check: SignatureCheck) -> Result<(), VerifyError> {
        let (done, verdict) = oneshot::channel();
        let lead = {
            let mut queue = self.inner.queue();
            if queue.jobs.len() >= MAX_QUEUED_SIGNATURES {
                self.inner.refused.fetch_add(1, Ordering::Relaxed);
                return Err(VerifyError::Busy);
            }
            queue.jobs.push_back(Job { check, done });
            let lead = queue.leaders == 0 || queue.jobs.len() >= MAX_VERIFY_BATCH;
            queue.leaders += usize::from(lead);
            lead
        };
        if lead {
            lead_checks(&self.inner);
        }
        // The leader answers every job it takes; verdicts are never dropped unsent.
        match verdict.await {
            Ok(true) => Ok(()),
            _ => Err(VerifyError::Invalid),
        }
    }

    pub fn stats(&self) -> VerifierStats {
        let i = &self.inner;
        VerifierStats {
            signatures: i.signatures.load(Ordering::Relaxed),
            batches: i.batches.load(Ordering::Relaxed),
            failed_batches: i.failed_batches.load(Ordering::Relaxed),
            largest_batch: i.largest_batch.load(Ordering::Relaxed),
            queued: i.queue().jobs.len(),
            refused: i.refused.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    // A panic while holding the lock leaves a consistent queue (each update is one step).
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Up to [`MAX_VERIFY_BATCH`] waiting jobs, or none (and one leader fewer).
    fn next_batch(&self) -> Vec<Job> {
        let mut queue = self.queue();
        if queue.jobs.is_empty() {
            queue.leaders -= 1;
            return Vec::new();
        }
        let n = queue.jobs.len().min(MAX_VERIFY_BATCH);
        queue.jobs.drain(..n).collect()
    }

    fn check(&self, batch: Vec<Job>) {
        let n = batch.len() as u64;
        self.signatures.fetch_add(n, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.largest_batch.fetch_max(n, Ordering::Relaxed);
        let checks: Vec<&SignatureCheck> = batch.iter().map(|j| &j.check).collect();
        let verdict = verify_all(&checks);
        if verdict.batch_failed {
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        for (job, ok) in batch.into_iter().zip(verdict.valid) {
            // A submitter that went away needs no answer.
            let _ = job.done.send(ok);
        }
    }
}

/// Runs batches until the queue is empty, or hands the rest to a task after
/// [`MAX_BATCHES_PER_LEADER`].
fn lead_checks(inner: &Arc<Inner>) {
    for _ in 0..MAX_BATCHES_PER_LEADER {
        let batch = inner.next_batch();
        if batch.is_empty() {
            return;
        }
        inner.check(batch);
    }
    let inner = inner.clone();
    tokio::spawn(async move { lead_checks(&inner) });
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

    /// Queues a job as if its submitter were waiting behind a running check.
    fn queue_behind(verifier: &BatchVerifier, check: SignatureCheck) -> oneshot::Receiver<bool> {
        let (done, verdict) = oneshot::channel();
        verifier.inner.queue().jobs.push_back(Job { check, done });
        verdict
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

    #[tokio::test]
    async fn a_lone_submission_is_checked_at_once_by_itself() {
        let verifier = BatchVerifier::new();
        assert_eq!(verifier.verify(check(1, true)).await, Ok(()));
        assert_eq!(
            verifier.verify(check(2, false)).await,
            Err(VerifyError::Invalid)
        );
        let stats = verifier.stats();
        assert_eq!(
            (stats.signatures, stats.batches, stats.largest_batch),
            (2, 2, 1)
        );
        assert_eq!(verifier.inner.queue().leaders, 0);
    }

    #[tokio::test]
    async fn submissions_queued_behind_a_check_share_the_next_batches() {
        let verifier = BatchVerifier::new();
        let queued = MAX_VERIFY_BATCH + 20;
        let bad = MAX_VERIFY_BATCH + 5;
        let verdicts: Vec<_> = (0..queued)
            .map(|i| queue_behind(&verifier, check(i as u8, i != bad)))
            .collect();
        // The next submitter finds no check running: it leads, for everyone queued.
        assert_eq!(verifier.verify(check(200, true)).await, Ok(()));
        for (i, mut verdict) in verdicts.into_iter().enumerate() {
            assert_eq!(verdict.try_recv(), Ok(i != bad), "job {i}");
        }
        assert_eq!(
            verifier.stats(),
            VerifierStats {
                signatures: queued as u64 + 1,
                batches: 2,
                failed_batches: 1,
                largest_batch: MAX_VERIFY_BATCH as u64,
                queued: 0,
                refused: 0,
            }
        );
    }

    #[tokio::test]
    async fn a_long_queue_is_handed_to_a_task_and_every_job_is_answered() {
        let verifier = BatchVerifier::new();
        let queued = MAX_VERIFY_BATCH * (MAX_BATCHES_PER_LEADER + 2);
        let verdicts: Vec<_> = (0..queued)
            .map(|i| queue_behind(&verifier, check(i as u8, true)))
            .collect();
        // The leader's own job is last: it returns once the task has reached it.
        assert_eq!(verifier.verify(check(1, true)).await, Ok(()));
        for verdict in verdicts {
            assert_eq!(verdict.await, Ok(true));
        }
        assert_eq!(verifier.stats().batches, MAX_BATCHES_PER_LEADER as u64 + 3);
    }

    #[tokio::test]
    async fn a_full_batch_waiting_is_checked_by_its_last_submitter_beside_the_running_check() {
        let verifier = BatchVerifier::new();
        verifier.inner.queue().leaders = 1;
        let verdicts: Vec<_> = (1..MAX_VERIFY_BATCH)
            .map(|i| queue_behind(&verifier, check(i as u8, true)))
            .collect();
        assert_eq!(verifier.verify(check(0, true)).await, Ok(()));
        for mut verdict in verdicts {
            assert_eq!(verdict.try_recv(), Ok(true));
        }
        let stats = verifier.stats();
        assert_eq!(
            (stats.batches, stats.largest_batch),
            (1, MAX_VERIFY_BATCH as u64)
        );
        assert_eq!(
            verifier.inner.queue().leaders,
            1,
            "the running check goes on"
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_with_busy_and_counts_it() {
        let verifier = BatchVerifier::new();
        let _held: Vec<_> = (0..MAX_QUEUED_SIGNATURES)
            .map(|i| queue_behind(&verifier, check(i as u8, true)))
            .collect();
        assert_eq!(
            verifier.verify(check(1, true)).await,
            Err(VerifyError::Busy)
        );
        let stats = verifier.stats();
        assert_eq!((stats.refused, stats.queued), (1, MAX_QUEUED_SIGNATURES));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_submissions_each_hear_their_own_verdict() {
        let verifier = Arc::new(BatchVerifier::new());
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
        let stats = verifier.stats();
        assert_eq!((stats.signatures, stats.queued), (100, 0));
        assert_eq!(verifier.inner.queue().leaders, 0);
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
