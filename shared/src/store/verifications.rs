//! A verification by its id: how it stands (one strongly consistent read) and its cancelling
//! (one conditional write), on the phone item that holds its digest.

use aws_sdk_dynamodb::types::ReturnValue;

use super::dynamodb::{Conditional, DynamoDbStore, Write};
use super::item::{CANCELED, OPEN, State, VerificationRecord, n, s, vid};
use super::{Result, VerificationStore};
use crate::domain::{PhoneKey, VerificationDigest, VerificationStatus};

/// The record of a verification just cancelled.
const CANCELLED: VerificationRecord = VerificationRecord {
    status: VerificationStatus::Canceled,
    attempts_left: 0,
    expires_at: None,
};

impl VerificationStore for DynamoDbStore {
    /// How the verification stands, read from its number's item; none when the item shows it
    /// is not one of its own.
    async fn verification(
        &self,
        key: &PhoneKey,
        digest: &VerificationDigest,
        issued_at: u64,
        now: u64,
    ) -> Result<Option<VerificationRecord>> {
        let state = self.read(key, None).await?;
        Ok(state.verification(digest, issued_at, &self.limits, now))
    }

    /// Ends the verification while its code is live and has guesses left: the code is
    /// removed with the state set, in one write conditional on both. Refused, nothing
    /// changes, and the answer is the verification as it stands; except for the verification
    /// a newer code replaced, which is marked cancelled too (a second write), so that a send
    /// still in flight that fails cannot bring it back.
    async fn cancel(
        &self,
        key: &PhoneKey,
        digest: &VerificationDigest,
        issued_at: u64,
        now: u64,
    ) -> Result<Option<VerificationRecord>> {
        let l = &self.limits;
        let write = Write::new(
            "SET vid_state = :canceled REMOVE code_hash, code_expires_at",
            "vid = :vid AND vid_state = :open AND code_expires_at > :now \
             AND attempts < :max_attempts",
            &[],
            vec![
                (":vid", vid(digest)),
                (":open", s(OPEN)),
                (":canceled", s(CANCELED)),
                (":now", n(now)),
                (":max_attempts", n(u64::from(l.max_attempts))),
            ],
        );
        let state = match self.update(key.as_str(), write, ReturnValue::None).await? {
            Conditional::Applied(_) => return Ok(Some(CANCELLED)),
            Conditional::Refused(returned) => self.read(key, returned).await?,
        };
        if !state.replaced_and_open(digest) {
            return Ok(state.verification(digest, issued_at, l, now));
        }
        self.cancel_replaced(key, digest, issued_at, now).await
    }
}

impl DynamoDbStore {
    /// Marks the verification a newer code replaced as cancelled, while it is still open.
    async fn cancel_replaced(
        &self,
        key: &PhoneKey,
        digest: &VerificationDigest,
        issued_at: u64,
        now: u64,
    ) -> Result<Option<VerificationRecord>> {
        let write = Write::new(
            "SET prev_vid_state = :canceled",
            "prev_vid = :vid AND prev_vid_state = :open",
            &[],
            vec![
                (":vid", vid(digest)),
                (":open", s(OPEN)),
                (":canceled", s(CANCELED)),
            ],
        );
        let state: State = match self.update(key.as_str(), write, ReturnValue::None).await? {
            Conditional::Applied(_) => return Ok(Some(CANCELLED)),
            Conditional::Refused(returned) => self.read(key, returned).await?,
        };
        Ok(state.verification(digest, issued_at, &self.limits, now))
    }
}
