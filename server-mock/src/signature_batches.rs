//! Device signatures checked in batches. Every signed request a device
//! sends (heartbeats most of all) costs one Ed25519 check, and that check
//! is most of the control plane's work per request. Checks that wait at the
//! same moment are verified together (`ed25519_dalek::verify_batch`: one
//! multi-scalar multiplication shared by the batch), which costs less than
//! half as much per signature as checking them one by one.
//!
//! Batching is opportunistic: nothing waits for a batch to fill. A request
//! queues its check; a checker task (at most one per core) takes whatever is
//! queued, up to [`MOST_AT_ONCE`], and answers. A lone check is a batch of
//! one and is checked by itself, as under light load; under heavy load the
//! queue fills while the checkers work, and the batches grow with it.
//!
//! What a batch accepts: everything the protocol's single check
//! (`verify_strict`) accepts. A batch that fails is checked again one
//! signature at a time, so a forged or tampered signature, and every
//! signature that shared its batch, gets the single check's answer. Keys
//! that are of small order or have a small-order component never go into a
//! batch (see [`crate::device_keys`]). The one difference left: a batch
//! does not see a small-order component in a signature's `R`, and may
//! accept such a signature where the single check refuses it. Only the
//! key's holder can make one (it means choosing the signing nonce
//! dishonestly), and it gains nothing: the holder could sign the same
//! message honestly. Nobody else can make a batch accept a signature the
//! key did not make.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use ed25519_dalek::{Signature, VerifyingKey};
use edgepoints_protocol::envelope::SignatureCheck;
use tokio::sync::oneshot;

use crate::device_keys::DeviceKey;

/// Most signatures in one batch. The gain per signature flattens out past
/// a few dozen, and a checker holds its thread for the whole batch (about
/// 25 µs a signature), so a batch stays under a millisecond.
pub const MOST_AT_ONCE: usize = 32;

/// Why a check gave no valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The signature does not verify under the key.
    BadSignature,
    /// The checker stopped before it answered (the runtime is shutting
    /// down); nothing was decided.
    CheckerGone,
}

/// The queue of checks waiting and the checkers working on it.
pub struct SignatureBatches {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    most_checkers: usize,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    checkers: usize,
}

struct Waiting {
    check: SignatureCheck,
    key: VerifyingKey,
    answer: oneshot::Sender<Result<SignatureCheck, Refusal>>,
}

impl Default for SignatureBatches {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SignatureBatches::with_checkers(cores)
    }
}

impl SignatureBatches {
    /// A queue served by at most `most_checkers` checker tasks at once (the
    /// default: one per core).
    pub fn with_checkers(most_checkers: usize) -> SignatureBatches {
        SignatureBatches {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                most_checkers: most_checkers.max(1),
            }),
        }
    }

    /// Checks `check`'s signature under `key`; gives the check back, whose
    /// payload is then trusted, if it verifies.
    pub async fn verify(&self, check: SignatureCheck, key: DeviceKey) -> Result<SignatureCheck, Refusal> {
        if !key.batchable {
            return match check.verify_strict(&key.key) {
                Ok(()) => Ok(check),
                Err(_) => Err(Refusal::BadSignature),
            };
        }
        let (answer, answered) = oneshot::channel();
        let start_checker = {
            let mut queue = self.shared.lock();
            queue.waiting.push_back(Waiting {
                check,
                key: key.key,
                answer,
            });
            let start = queue.checkers < self.shared.most_checkers;
            if start {
                queue.checkers += 1;
            }
            start
        };
        if start_checker {
            tokio::spawn(check_until_empty(CheckerSlot {
                shared: self.shared.clone(),
                given_back: false,
            }));
        }
        answered.await.unwrap_or(Err(Refusal::CheckerGone))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running checker's place in the count. A checker that finds the queue
/// empty gives its place back under the same lock as it looked, so a check
/// queued at that moment either is taken by it or sees the place free and
/// starts a new checker: no check is left in the queue with nobody to take
/// it.
struct CheckerSlot {
    shared: Arc<Shared>,
    given_back: bool,
}

impl CheckerSlot {
    /// The next checks to settle; none once the queue is empty, and then
    /// the place is given back.
    fn next_batch(&mut self) -> Vec<Waiting> {
        let mut queue = self.shared.lock();
        if queue.waiting.is_empty() {
            queue.checkers -= 1;
            self.given_back = true;
            return Vec::new();
        }
        let take = queue.waiting.len().min(MOST_AT_ONCE);
        queue.waiting.drain(..take).collect()
    }
}

impl Drop for CheckerSlot {
    /// A checker that ended holding its place (it panicked, or its runtime
    /// is going away) gives it back; if it was the last, the checks still
    /// queued are answered "checker gone" rather than left waiting.
    fn drop(&mut self) {
        if self.given_back {
            return;
        }
        let mut queue = self.shared.lock();
        queue.checkers -= 1;
        if queue.checkers == 0 {
            queue.waiting.clear();
        }
    }
}

async fn check_until_empty(mut slot: CheckerSlot) {
    loop {
        let batch = slot.next_batch();
        if batch.is_empty() {
            return;
        }
        settle(batch);
        // Let the requests whose checks were answered go on before the
        // next batch takes this thread.
        tokio::task::yield_now().await;
    }
}

/// Answers every check of `batch`.
fn settle(batch: Vec<Waiting>) {
    let valid: Vec<bool> = match batch.as_slice() {
        [one] => {
            let valid = one.check.verify_strict(&one.key).is_ok();
            crate::metrics::signature_batch(1, valid);
            vec![valid]
        }
        many => {
            let messages: Vec<&[u8]> = many.iter().map(|w| w.check.message()).collect();
            let signatures: Vec<Signature> = many.iter().map(|w| *w.check.signature()).collect();
            let keys: Vec<VerifyingKey> = many.iter().map(|w| w.key).collect();
            let all_valid = ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok();
            crate::metrics::signature_batch(many.len(), all_valid);
            if all_valid {
                vec![true; many.len()]
            } else {
                // At least one bad signature: each gets its own answer.
                many.iter().map(|w| w.check.verify_strict(&w.key).is_ok()).collect()
            }
        }
    };
    for (waiting, valid) in batch.into_iter().zip(valid) {
        let verdict = if valid {
            Ok(waiting.check)
        } else {
            Err(Refusal::BadSignature)
        };
        // The request may have gone (its client hung up): nobody to tell.
        let _ = waiting.answer.send(verdict);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use ed25519_dalek::SigningKey;
    use edgepoints_protocol::{Purpose, SignedEnvelope};

    fn signed(seed: u8, n: u32) -> (SignatureCheck, DeviceKey) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let envelope = SignedEnvelope::sign(Purpose::Heartbeat, "dev", &key, &n);
        let check = envelope.signature_check(Purpose::Heartbeat).unwrap();
        (check, DeviceKey::new(key.verifying_key()))
    }

    fn tampered(seed: u8, n: u32) -> (SignatureCheck, DeviceKey) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let mut envelope = SignedEnvelope::sign(Purpose::Heartbeat, "dev", &key, &n);
        // Another payload under the first one's signature.
        envelope.payload = SignedEnvelope::sign(Purpose::Heartbeat, "dev", &key, &(n + 1)).payload;
        let check = envelope.signature_check(Purpose::Heartbeat).unwrap();
        (check, DeviceKey::new(key.verifying_key()))
    }

    /// Many checks at once on a runtime with one checker: they queue up
    /// behind it and go through in batches; each gets its own answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_checks_each_get_their_own_answer_and_payload() {
        let batches = Arc::new(SignatureBatches::with_checkers(1));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..100u32 {
            let batches = batches.clone();
            tasks.spawn(async move {
                let forged = n % 17 == 3;
                let (check, key) = if forged {
                    tampered((n % 5) as u8, n)
                } else {
                    signed((n % 5) as u8, n)
                };
                let verdict = batches.verify(check, key).await;
                (n, forged, verdict)
            });
        }
        let mut forged_refused = 0;
        while let Some(done) = tasks.join_next().await {
            let (n, forged, verdict) = done.unwrap();
            if forged {
                assert_eq!(verdict.unwrap_err(), Refusal::BadSignature, "check {n}");
                forged_refused += 1;
            } else {
                let payload = verdict.unwrap_or_else(|e| panic!("check {n}: {e:?}")).into_payload();
                assert_eq!(payload, serde_json::to_vec(&n).unwrap());
            }
        }
        assert_eq!(forged_refused, (0..100).filter(|n| n % 17 == 3).count());
        // The checker answers the last batch before it looks at the queue
        // once more and ends.
        tokio::time::timeout(Duration::from_secs(10), async {
            while batches.shared.lock().checkers > 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("the checker ended with the queue empty");
    }

    /// Checks that arrive just as a checker finds the queue empty are not
    /// stranded: every one of many small bursts is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_check_queued_as_the_checker_ends_is_still_answered() {
        let batches = Arc::new(SignatureBatches::with_checkers(1));
        let pool: Vec<_> = (0..4u8).map(|seed| signed(seed, u32::from(seed))).collect();
        for round in 0..400usize {
            let mut burst = tokio::task::JoinSet::new();
            for n in 0..1 + round % 3 {
                let batches = batches.clone();
                let (check, key) = pool[(round + n) % pool.len()].clone();
                burst.spawn(async move { batches.verify(check, key).await });
            }
            while let Some(verdict) = tokio::time::timeout(Duration::from_secs(10), burst.join_next())
                .await
                .unwrap_or_else(|_| panic!("round {round}: a check was never answered"))
            {
                assert!(verdict.unwrap().is_ok(), "round {round}");
            }
        }
    }

    #[test]
    fn a_failed_batch_refuses_only_its_bad_signatures() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (answers, answered): (Vec<_>, Vec<_>) = (0..5).map(|_| oneshot::channel()).unzip();
        let batch = answers
            .into_iter()
            .enumerate()
            .map(|(n, answer)| {
                let (check, key) = if n == 2 {
                    tampered(1, 2)
                } else {
                    signed(n as u8, n as u32)
                };
                Waiting {
                    check,
                    key: key.key,
                    answer,
                }
            })
            .collect();
        settle(batch);
        let verdicts: Vec<bool> = runtime.block_on(async {
            let mut verdicts = Vec::new();
            for rx in answered {
                verdicts.push(rx.await.unwrap().is_ok());
            }
            verdicts
        });
        assert_eq!(verdicts, [true, true, false, true, true]);
    }

    #[tokio::test]
    async fn a_key_with_a_small_order_component_is_checked_alone() {
        let batches = SignatureBatches::with_checkers(1);
        // The identity point: a key of small order, which `verify_strict`
        // refuses whatever the signature.
        let weak = VerifyingKey::from_bytes(&[
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ])
        .unwrap();
        let key = DeviceKey::new(weak);
        assert!(!key.batchable);
        let (check, _) = signed(1, 1);
        assert_eq!(batches.verify(check, key).await.unwrap_err(), Refusal::BadSignature);
        assert_eq!(batches.shared.lock().checkers, 0, "no checker was started");
    }
}
