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

/// Every attribute the receipt writes name, in their updates and conditions: the callback
/// function's role may touch no other (`template.yaml`), so it can never write a code or a
/// counter.
pub const RECEIPT_ATTRIBUTES: [&str; 8] = [
    "pk",
    "ttl",
    "message_ref",
    "message_uuid",
    "delivery_status",
    "delivery_error",
    "delivery_sequence",
    "delivery_updated_at",
];

const RECORD_WITH_ERROR: &str = "SET message_uuid = if_not_exists(message_uuid, :uuid), \
     delivery_status = :status, delivery_error = :error, \
     delivery_sequence = :seq, delivery_updated_at = :now";
const RECORD_WITHOUT_ERROR: &str = "SET message_uuid = if_not_exists(message_uuid, :uuid), \
     delivery_status = :status, delivery_sequence = :seq, \
     delivery_updated_at = :now REMOVE delivery_error";
/// The report belongs to the pending code's message and is newer than the one recorded.
const RECORD_IF: &str = "message_ref = :ref \
     AND (attribute_not_exists(message_uuid) OR message_uuid = :uuid) \
     AND (attribute_not_exists(delivery_sequence) OR delivery_sequence < :seq)";
const SEEN_SET: &str = "SET #ttl = :ttl";
const SEEN_IF: &str = "attribute_not_exists(pk)";

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
                RECORD_WITH_ERROR
            }
            None => RECORD_WITHOUT_ERROR,
        };
        let write = Write::new(update, RECORD_IF, &[], values);
        Ok(matches!(
            self.update(key.as_str(), write, ReturnValue::None).await?,
            Conditional::Applied(_)
        ))
    }

    /// One conditional write, never retried by the SDK: a retry after a lost answer would find
    /// its own note and call the first sighting a replay. The id is hashed: the note holds no
    /// Plivo identifier or nonce.
    async fn first_sighting(&self, id: &str, until: u64) -> Result<bool> {
        let pk = format!(
            "{SEEN_PREFIX}{}",
            hex::encode(Sha256::digest(id.as_bytes()))
        );
        let write = Write::new(SEEN_SET, SEEN_IF, &[TTL], vec![(":ttl", n(until))]);
        self.update_once(&pk, write).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attribute names an expression uses (its words that are not functions, keywords,
    /// placeholders or values).
    fn attributes(expression: &str) -> Vec<String> {
        const WORDS: [&str; 7] = [
            "SET",
            "REMOVE",
            "AND",
            "OR",
            "NOT",
            "if_not_exists",
            "attribute_not_exists",
        ];
        expression
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '#'))
            .filter(|w| !w.is_empty() && !w.starts_with(':') && !WORDS.contains(w))
            .map(|w| {
                if w == "#ttl" {
                    "ttl".to_owned()
                } else {
                    w.to_owned()
                }
            })
            .collect()
    }

    #[test]
    fn the_receipt_writes_name_only_the_attributes_the_callback_role_may_touch() {
        let expressions = [
            RECORD_WITH_ERROR,
            RECORD_WITHOUT_ERROR,
            RECORD_IF,
            SEEN_SET,
            SEEN_IF,
        ];
        for expression in expressions {
            for name in attributes(expression) {
                assert!(
                    RECEIPT_ATTRIBUTES.contains(&name.as_str()),
                    "{name} in {expression}"
                );
            }
        }
        assert_eq!(
            attributes(RECORD_IF),
            [
                "message_ref",
                "message_uuid",
                "message_uuid",
                "delivery_sequence",
                "delivery_sequence"
            ]
        );
    }
}
