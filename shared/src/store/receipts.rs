//! The writes of the status callback: a delivery report recorded on the number's item, and the
//! note that a callback was seen, which refuses its replay.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use sha2::{Digest, Sha256};

use super::dynamodb::{Conditional, DynamoDbStore, TTL, Write};
use super::item::n;
use super::{ReceiptStore, Result};
use crate::domain::{MessageRef, PhoneKey, Receipt};

/// The partition keys of the notes: apart from phone items (bare hex) and counters.
const SEEN_PREFIX: &str = "seen#";

impl ReceiptStore for DynamoDbStore {
    /// One conditional write: applied only while the item's pending code is the message's
    /// (`message_ref`), the message is the one first reported for it, and the report is newer
    /// than the recorded one, so a late or replayed report changes nothing. It never creates
    /// an item.
    async fn record_delivery(
        &self,
        key: &PhoneKey,
        message_ref: &MessageRef,
        receipt: &Receipt,
        now: u64,
    ) -> Result<bool> {
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let mut values = vec![
            (":ref", s(message_ref.as_str())),
            (":uuid", s(&receipt.message_uuid)),
            (":status", s(receipt.status.as_str())),
            (":seq", n(receipt.sequence)),
            (":now", n(now)),
        ];
        let update = match receipt.error_code {
            Some(code) => {
                values.push((":error", n(u64::from(code))));
                "SET message_uuid = if_not_exists(message_uuid, :uuid), \
                 delivery_status = :status, delivery_error = :error, \
                 delivery_sequence = :seq, delivery_updated_at = :now"
            }
            None => {
                "SET message_uuid = if_not_exists(message_uuid, :uuid), \
                 delivery_status = :status, delivery_sequence = :seq, \
                 delivery_updated_at = :now REMOVE delivery_error"
            }
        };
        let condition = "message_ref = :ref \
             AND (attribute_not_exists(message_uuid) OR message_uuid = :uuid) \
             AND (attribute_not_exists(delivery_sequence) OR delivery_sequence < :seq)";
        let write = Write::new(update, condition, &[], values);
        Ok(matches!(
            self.update(key.as_str(), write, ReturnValue::None).await?,
            Conditional::Applied(_)
        ))
    }

    /// One conditional write, never retried by the SDK: a retry after a lost answer would find
    /// its own note and call the first sighting a replay. The id is hashed: the table holds no
    /// Plivo identifier.
    async fn first_sighting(&self, id: &str, until: u64) -> Result<bool> {
        let pk = format!(
            "{SEEN_PREFIX}{}",
            hex::encode(Sha256::digest(id.as_bytes()))
        );
        let write = Write::new(
            "SET #ttl = :ttl",
            "attribute_not_exists(pk)",
            &[TTL],
            vec![(":ttl", n(until))],
        );
        self.update_once(&pk, write).await
    }
}
