//! The [`OtpStore`] on the phone item: storing a code, checking a guess (counted and consumed
//! in `guesses.rs`), withdrawing a code whose SMS failed, and a verification by its id
//! (`verifications.rs`).
//!
//! A guess is counted before it is compared: one conditional write adds it to every counter
//! while all are below their limits and returns the stored hash; only a guess counted that
//! way is compared (in constant time), and only a match is consumed, by a second write
//! conditional on that hash. So at most `max_attempts` guesses are ever compared per code,
//! whatever the concurrency. Guesses are counted whether or not a code is pending, so a
//! number with a code and one without answer alike.
//!
//! A guess by verification id counts only while its verification is the pending one, and is
//! bound by that code's attempts and the consecutive failures; a guess by number also by the
//! number's hourly failure budget. Wrong guesses never stop a send: each new code has its own
//! attempts. The consecutive failures survive windows and new codes; only a right code resets
//! them, and at their limit the number is locked, for sends and guesses alike.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::dynamodb::{Conditional, DynamoDbStore, TTL, Write};
use super::guesses::Counted;
use super::item::{Item, NO_VID, OPEN, PendingCode, State, b, item_ttl, n, s, vid};
use super::{Guessed, NewCode, OtpStore, Result, SendDecision, VerifyDecision};
use crate::domain::{CodeHash, HOUR, MessageRef, PhoneKey};

/// The counters of a send, set on a new item and kept on an existing one; the verification it
/// opens, with the one it ends kept beside it.
const SEND_SET: &str = "code_hash = :h, code_expires_at = :exp, attempts = :zero, \
     last_sent_at = :now, #ttl = :ttl, \
     consecutive_failures = if_not_exists(consecutive_failures, :zero), \
     consecutive_failures_reset_at = if_not_exists(consecutive_failures_reset_at, :zero), \
     prev_vid = if_not_exists(vid, :no_vid), prev_vid_state = if_not_exists(vid_state, :open), \
     prev_attempts = if_not_exists(attempts, :zero), vid = :vid, vid_state = :open";

/// What a new code clears: the report of the message before it.
const DELIVERY_ATTRIBUTES: &str =
    "message_uuid, delivery_status, delivery_error, delivery_sequence, delivery_updated_at";

/// The end of a send's update: the new code's message reference set (with receipts on) or
/// removed, and the previous message's report cleared.
fn message_clauses(message_ref: Option<&MessageRef>) -> (String, String) {
    match message_ref {
        Some(_) => (
            ", message_ref = :ref".to_owned(),
            format!(" REMOVE {DELIVERY_ATTRIBUTES}"),
        ),
        None => (
            String::new(),
            format!(" REMOVE message_ref, {DELIVERY_ATTRIBUTES}"),
        ),
    }
}

/// A send is refused while the number is locked.
const NOT_LOCKED: &str = "(attribute_not_exists(consecutive_failures) \
     OR consecutive_failures < :max_consecutive OR consecutive_failures_reset_at <= :now)";

impl OtpStore for DynamoDbStore {
    /// Stores a new code for the number unless the cooldown, the send cap or a lock forbids
    /// it. One write when the number is new or inside its window; a second only to start a
    /// new window over an old item.
    async fn store_code(
        &self,
        key: &PhoneKey,
        code: NewCode<'_>,
        now: u64,
    ) -> Result<SendDecision> {
        let l = &self.limits;
        let mut values = self.send_values(code, now);
        values.push((":max_sends", n(l.max_sends_per_hour.bound())));
        let (set_ref, remove) = message_clauses(code.message_ref);
        let update = format!(
            "SET {SEND_SET}{set_ref}, window_started_at = if_not_exists(window_started_at, :now), \
             failures_in_window = if_not_exists(failures_in_window, :zero) \
             ADD sends_in_window :one{remove}"
        );
        let condition = format!(
            "attribute_not_exists(pk) OR (window_started_at > :window_start \
             AND last_sent_at <= :cooldown AND sends_in_window < :max_sends AND {NOT_LOCKED})"
        );
        let write = Write::new(&update, &condition, &[TTL], values);
        let returned = match self
            .update(key.as_str(), write, ReturnValue::AllOld)
            .await?
        {
            Conditional::Applied(old) => return Ok(stored(&old, now)),
            Conditional::Refused(item) => item,
        };
        // Refused: either limited inside the window, or the window is over and the counters
        // start again. Skip the second write when the returned item already rules it out.
        let window_over = returned
            .as_ref()
            .map(|item| !State::from_item(item).window_open(now));
        if window_over == Some(false) {
            return self.refused_send(key, returned, now).await;
        }
        self.write_code_in_new_window(key, code, now).await
    }

    /// Checks a guess: counted first, compared only once counted, consumed only on a match.
    /// A wrong guess is one write; a right one two. A guess by id whose verification is not
    /// the open one is refused without being counted.
    async fn verify(
        &self,
        key: &PhoneKey,
        guessed: Guessed<'_>,
        hash: &CodeHash,
        now: u64,
    ) -> Result<VerifyDecision> {
        let l = &self.limits;
        let by_number = guessed == Guessed::Number;
        let counted = match self.count(key, guessed, now).await? {
            Counted::Yes(state) => state,
            Counted::Refused(retry_after) => return Ok(VerifyDecision::Exhausted { retry_after }),
            Counted::NotOpen => return Ok(VerifyDecision::Rejected),
        };
        if counted.matches(hash, now) {
            return self.consume(key, hash, now).await;
        }
        if counted.guesses_exhausted(l, by_number, now) {
            Ok(VerifyDecision::Exhausted {
                retry_after: counted.guess_retry_after(l, by_number, now),
            })
        } else {
            Ok(VerifyDecision::Rejected)
        }
    }

    /// Takes back the code just stored when its SMS could not be sent, unless it was replaced
    /// or used meanwhile: the code it replaced comes back if it is still valid (and its
    /// verification was not cancelled meanwhile), with its attempts added to those counted
    /// since; otherwise the number is left without a code.
    async fn withdraw_code(
        &self,
        key: &PhoneKey,
        sent: &CodeHash,
        previous: Option<&PendingCode>,
        now: u64,
    ) -> Result<()> {
        if let Some(p) = previous.filter(|p| p.expires_at > now) {
            let (update, mut values) = restore_update(p);
            values.push((":h", b(sent)));
            // Not over a verification cancelled while the send was failing.
            let condition = "code_hash = :h AND prev_vid_state = :open";
            let write = Write::new(&update, condition, &[], values);
            if let Conditional::Applied(_) =
                self.update(key.as_str(), write, ReturnValue::None).await?
            {
                return Ok(());
            }
        }
        let remove =
            format!("REMOVE code_hash, code_expires_at, message_ref, {DELIVERY_ATTRIBUTES}");
        let write = Write::new(&remove, "code_hash = :h", &[], vec![(":h", b(sent))]);
        self.update(key.as_str(), write, ReturnValue::None).await?;
        Ok(())
    }
}

impl DynamoDbStore {
    /// Stores a new code over an item whose window is over, starting a new window.
    async fn write_code_in_new_window(
        &self,
        key: &PhoneKey,
        code: NewCode<'_>,
        now: u64,
    ) -> Result<SendDecision> {
        let (set_ref, remove) = message_clauses(code.message_ref);
        let update = format!(
            "SET {SEND_SET}{set_ref}, window_started_at = :now, sends_in_window = :one, \
             failures_in_window = :zero{remove}"
        );
        let condition = format!(
            "window_started_at <= :window_start AND last_sent_at <= :cooldown AND {NOT_LOCKED}"
        );
        let values = self.send_values(code, now);
        let write = Write::new(&update, &condition, &[TTL], values);
        match self
            .update(key.as_str(), write, ReturnValue::AllOld)
            .await?
        {
            Conditional::Applied(old) => Ok(stored(&old, now)),
            Conditional::Refused(item) => self.refused_send(key, item, now).await,
        }
    }

    /// The values both send writes use.
    fn send_values(&self, code: NewCode<'_>, now: u64) -> Vec<(&'static str, AttributeValue)> {
        let l = &self.limits;
        let message_ref = code.message_ref.map(|r| (":ref", s(r.as_str())));
        let mut values = vec![
            (":h", b(code.hash)),
            (":vid", vid(code.verification)),
            (":no_vid", s(NO_VID)),
            (":open", s(OPEN)),
            (":exp", n(now + l.code_ttl)),
            (":now", n(now)),
            (":zero", n(0)),
            (":one", n(1)),
            (":ttl", n(item_ttl(l, now))),
            (":window_start", n(now.saturating_sub(HOUR))),
            (":cooldown", n(now.saturating_sub(l.resend_cooldown))),
            (":max_consecutive", n(u64::from(l.max_consecutive_failures))),
        ];
        values.extend(message_ref);
        values
    }

    /// A refused send: how long until one can succeed, from the item as it is.
    async fn refused_send(
        &self,
        key: &PhoneKey,
        returned: Option<Item>,
        now: u64,
    ) -> Result<SendDecision> {
        let state = self.read(key, returned).await?;
        Ok(SendDecision::RateLimited {
            retry_after: state.retry_after(&self.limits, now),
        })
    }
}

/// The update that puts `p` back as the pending code, with its verification open again, its
/// attempts added to those counted since, and its message taking reports again from a clean
/// record (any report of the withdrawn message is dropped with it).
fn restore_update(p: &PendingCode) -> (String, Vec<(&'static str, AttributeValue)>) {
    let mut values = vec![
        (":old", b(&p.hash)),
        (":old_exp", n(p.expires_at)),
        (":old_attempts", n(p.attempts)),
        (":open", s(OPEN)),
    ];
    // A code from before ids has no verification.
    let set_vid = match &p.vid {
        Some(digest) => {
            values.push((":old_vid", vid(digest)));
            "vid = :old_vid"
        }
        None => {
            values.push((":no_vid", s(NO_VID)));
            "vid = :no_vid"
        }
    };
    let set_ref = match &p.message_ref {
        Some(old_ref) => {
            values.push((":old_ref", AttributeValue::S(old_ref.clone())));
            ", message_ref = :old_ref REMOVE "
        }
        None => " REMOVE message_ref, ",
    };
    let update = format!(
        "SET code_hash = :old, code_expires_at = :old_exp, {set_vid}, vid_state = :open, \
         attempts = attempts + :old_attempts{set_ref}{DELIVERY_ATTRIBUTES}"
    );
    (update, values)
}

/// A send applied: what the item held before it tells which code it replaced.
fn stored(old: &Item, now: u64) -> SendDecision {
    SendDecision::Stored {
        previous: State::from_item(old).pending_code(now),
    }
}
