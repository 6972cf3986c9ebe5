//! A verification by its id: how it stands (one strongly consistent read) and its cancelling
//! (one conditional write), on the phone item that holds its digest.

use aws_sdk_dynamodb::types::ReturnValue;

use super::Result;
use super::dynamodb::{Conditional, DynamoDbStore, Write};
use super::item::{CANCELED, OPEN, VerificationRecord, n, s, vid};
use crate::domain::{PhoneKey, VerificationDigest, VerificationStatus};

impl DynamoDbStore {
    /// How the verification stands, read from its number's item.
    pub(super) async fn read_verification(
        &self,
        key: &PhoneKey,
        digest: &VerificationDigest,
        now: u64,
    ) -> Result<VerificationRecord> {
        let state = self.read(key, None).await?;
        Ok(state.verification(digest, &self.limits, now))
    }

    /// Ends the verification while its code is live and has guesses left: the code is
    /// removed with the state set, in one write conditional on both. Refused, nothing
    /// changes, and the answer is the verification as it stands.
    pub(super) async fn cancel_verification(
        &self,
        key: &PhoneKey,
        digest: &VerificationDigest,
        now: u64,
    ) -> Result<VerificationRecord> {
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
        match self.update(key.as_str(), write, ReturnValue::None).await? {
            Conditional::Applied(_) => Ok(VerificationRecord {
                status: VerificationStatus::Canceled,
                attempts_left: 0,
                expires_at: None,
            }),
            Conditional::Refused(returned) => {
                let state = self.read(key, returned).await?;
                Ok(state.verification(digest, l, now))
            }
        }
    }
}
