//! A direct call: one logical request sent until it is answered, each
//! transient failure waited out as the retry policy says (or as long as
//! the control plane's `Retry-After` asks), up to its attempts.

use edgepoints_protocol::ProblemCode;

use crate::shared::Shared;
use crate::transport::{Attempted, Outgoing};
use crate::Error;

/// Sends the request `make` builds (again for each attempt, so a signed
/// read can sign afresh; a mutating request keeps its idempotency key)
/// until it is answered: the body, or the refusal, or
/// [`Error::Unavailable`] after the last attempt.
pub(crate) async fn retrying(shared: &Shared, mut make: impl FnMut() -> Outgoing) -> Result<Vec<u8>, Error> {
    shared.ensure_open()?;
    let policy = shared.transport().retry_policy().clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match shared.transport().attempt(&make(), attempt > 1).await {
            Attempted::Done { body, .. } => return Ok(body),
            Attempted::Refused {
                problem,
                retry_after: Some(retry_after),
                ..
            } if problem.code == ProblemCode::TooManyAttempts => return Err(Error::TooManyAttempts { retry_after }),
            Attempted::Refused { status, problem, .. } => return Err(Error::Rejected { status, problem }),
            Attempted::Transient { failure, retry_after } => {
                if attempt >= policy.max_attempts {
                    return Err(Error::Unavailable {
                        attempts: attempt,
                        retry_after,
                        last: failure,
                    });
                }
                tokio::time::sleep(retry_after.unwrap_or_else(|| policy.backoff(attempt))).await;
            }
        }
    }
}
