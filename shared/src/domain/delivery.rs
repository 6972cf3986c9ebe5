//! Delivery receipts: what Plivo reports of a message after it accepted it, and how the
//! service links a report to the code it carried.
//!
//! Each code sent with receipts on gets a fresh random [`MessageRef`], stored with the code's
//! hash in the same write and named in the status URL Plivo is given. A report counts only
//! while the number's item still holds that reference, so a late report of an older message
//! never lands on a newer code.

use rand::RngExt;

use super::Region;

/// A random reference for one message (128 bits, hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef(String);

impl MessageRef {
    pub(crate) fn generate() -> Self {
        Self(hex::encode(rand::rng().random::<[u8; 16]>()))
    }

    /// A reference as a status URL carries it: 32 lowercase hex digits, else none.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message's state as Plivo reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Undelivered,
    Failed,
}

impl DeliveryStatus {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "undelivered" => Self::Undelivered,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
        }
    }

    /// What the report settles for a message to `region`: delivered, failed, or nothing yet.
    /// US and Canadian carriers return no delivery reports, so there `sent` is as far as a
    /// message is ever known to get, and counts as delivered (as Plivo advises).
    pub(crate) fn outcome(self, region: Option<Region>) -> Option<DeliveryOutcome> {
        let no_reports = matches!(region, Some(Region::US | Region::CA));
        match self {
            Self::Delivered => Some(DeliveryOutcome::Delivered),
            Self::Sent if no_reports => Some(DeliveryOutcome::Delivered),
            Self::Undelivered | Self::Failed => Some(DeliveryOutcome::Failed),
            Self::Queued | Self::Sent => None,
        }
    }
}

/// Where a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryOutcome {
    Delivered,
    Failed,
}

/// One status report of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Plivo's id of the message.
    pub(crate) message_uuid: String,
    /// The report's place among the message's reports (they may arrive out of order).
    pub(crate) sequence: u64,
    pub(crate) status: DeliveryStatus,
    /// Plivo's error code, for a failed or undelivered message.
    pub(crate) error_code: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_random_and_parse_back() {
        let a = MessageRef::generate();
        assert_ne!(a, MessageRef::generate());
        assert_eq!(MessageRef::parse(a.as_str()), Some(a));
        assert_eq!(MessageRef::parse("0123"), None);
        assert_eq!(MessageRef::parse(&"G".repeat(32)), None);
        assert_eq!(MessageRef::parse(&"A".repeat(32)), None);
    }

    #[test]
    fn sent_is_final_only_where_carriers_return_no_reports() {
        use DeliveryOutcome::*;
        let sent = DeliveryStatus::Sent;
        assert_eq!(sent.outcome(Some(Region::US)), Some(Delivered));
        assert_eq!(sent.outcome(Some(Region::CA)), Some(Delivered));
        assert_eq!(sent.outcome(Some(Region::GB)), None);
        assert_eq!(sent.outcome(None), None);
        assert_eq!(DeliveryStatus::Queued.outcome(Some(Region::US)), None);
        assert_eq!(DeliveryStatus::Delivered.outcome(None), Some(Delivered));
        assert_eq!(DeliveryStatus::Undelivered.outcome(None), Some(Failed));
        assert_eq!(
            DeliveryStatus::Failed.outcome(Some(Region::US)),
            Some(Failed)
        );
        for s in ["queued", "sent", "delivered", "undelivered", "failed"] {
            assert_eq!(DeliveryStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(DeliveryStatus::parse("read"), None);
    }
}
