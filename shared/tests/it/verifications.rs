//! Verifications by id against dynalite: a send names its verification, and the id verifies,
//! reads and cancels it; every rule that holds for guesses by number holds by id, and a
//! stranger's guesses never keep the owner from a new code.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common::*;
use otp_shared::domain::{PhoneNumber, VerificationId, VerificationStatus};
use otp_shared::error::OtpError;
use otp_shared::service::{Subject, Verification};

fn by_id(id: &VerificationId, phone: Option<PhoneNumber>) -> Subject {
    Subject::Verification {
        id: id.clone(),
        phone,
    }
}

/// An id that is well-formed but was never issued: a real one with one byte changed.
fn forged(id: &VerificationId) -> VerificationId {
    let mut text = id.as_string().into_bytes();
    text[20] = if text[20] == b'A' { b'B' } else { b'A' };
    VerificationId::parse(std::str::from_utf8(&text).unwrap()).unwrap()
}

fn operations(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// A refused conditional write is one more read where DynamoDB does not return the item.
fn refused_write() -> BTreeMap<String, usize> {
    if returns_old_item() {
        operations(&[("UpdateItem", 1)])
    } else {
        operations(&[("UpdateItem", 1), ("GetItem", 1)])
    }
}

#[tokio::test]
async fn a_send_names_its_verification_and_the_id_alone_verifies_it() {
    let stack = Stack::new("").await;
    let number = us(1);
    let (code, id) = stack.send_for_id(&number, &ANYONE).await;
    let text = id.as_string();
    assert_eq!(text.len(), 36);
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(!text.contains("4155551001"));
    let verifier = stack.verifier();
    let r = guess_id(&verifier, &id, &wrong(&code)).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    let verified = verifier
        .verify_by(&by_id(&id, None), &crate::common::code(&code), &ANYONE)
        .await
        .unwrap();
    assert_eq!(verified, number, "the id's number is the one verified");
    // Used up, by id and by number alike.
    let r = guess_id(&verifier, &id, &code).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    let r = verifier.guess(&number, &code).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
}

#[tokio::test]
async fn an_id_with_another_number_beside_it_reads_as_a_wrong_code_and_costs_nothing() {
    let stack = Stack::new("").await;
    let (code, id) = stack.send_for_id(&us(2), &ANYONE).await;
    let verifier = stack.verifier();
    stack.requests.reset();
    let r = verifier
        .verify_by(
            &by_id(&id, Some(us(3))),
            &crate::common::code(&code),
            &ANYONE,
        )
        .await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    stack.assert_requests(0);
    // The same number beside it is accepted.
    verifier
        .verify_by(
            &by_id(&id, Some(us(2))),
            &crate::common::code(&code),
            &ANYONE,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_forged_id_is_a_wrong_code_or_not_found_and_costs_no_request() {
    let stack = Stack::new("").await;
    let (code, id) = stack.send_for_id(&us(4), &ANYONE).await;
    let fake = forged(&id);
    let verifier = stack.verifier();
    stack.requests.reset();
    let r = guess_id(&verifier, &fake, &code).await;
    assert_eq!(answer(&r.unwrap_err()).0, 401);
    let r = verifier.status(&fake).await;
    assert!(matches!(r, Err(OtpError::NotFound)), "{r:?}");
    let r = verifier.cancel(&fake).await;
    assert!(matches!(r, Err(OtpError::NotFound)), "{r:?}");
    stack.assert_requests(0);
    // The real id is untouched.
    let status = verifier.status(&id).await.unwrap();
    assert_eq!(status.attempts_left, 5);
}

#[tokio::test]
async fn the_status_follows_the_verification_from_pending_to_approved() {
    let stack = Stack::new("").await;
    let number = us(5);
    let (code, id) = stack.send_for_id(&number, &ANYONE).await;
    let verifier = stack.verifier();
    stack.requests.reset();
    let status = verifier.status(&id).await.unwrap();
    stack.assert_requests(1);
    assert_eq!(
        status,
        Verification {
            status: VerificationStatus::Pending,
            channel: otp_shared::domain::Channel::Sms,
            attempts_left: 5,
            expires_in: Some(300),
            to: number.clone(),
        }
    );
    assert_eq!(status.to.masked(), "+1415*****05");
    stack.clock.advance(10);
    let _ = guess_id(&verifier, &id, &wrong(&code)).await;
    // A guess by number counts on the pending code too.
    let _ = verifier.guess(&number, &wrong(&code)).await;
    let status = verifier.status(&id).await.unwrap();
    assert_eq!((status.attempts_left, status.expires_in), (3, Some(290)));
    guess_id(&verifier, &id, &code).await.unwrap();
    let status = verifier.status(&id).await.unwrap();
    assert_eq!(status.status, VerificationStatus::Approved);
    assert_eq!((status.attempts_left, status.expires_in), (0, None));
    // A newer code does not rewrite how the one before it ended.
    stack.clock.advance(30);
    let (_, newer) = stack.send_for_id(&number, &ANYONE).await;
    assert_eq!(
        verifier.status(&id).await.unwrap().status,
        VerificationStatus::Approved
    );
    assert_eq!(
        verifier.status(&newer).await.unwrap().status,
        VerificationStatus::Pending
    );
}

#[tokio::test]
async fn a_newer_code_expires_the_verification_before_it_and_its_guesses_count_for_nothing() {
    let stack = Stack::new("").await;
    let number = us(6);
    let (old_code, old) = stack.send_for_id(&number, &ANYONE).await;
    stack.clock.advance(30);
    let (new_code, new) = stack.send_for_id(&number, &ANYONE).await;
    let verifier = stack.verifier();
    assert_eq!(
        verifier.status(&old).await.unwrap().status,
        VerificationStatus::Expired
    );
    // Guesses by the old id are refused without touching the new code's attempts, even with
    // the new code itself.
    for guess in [old_code.clone(), new_code.clone(), wrong(&new_code)] {
        stack.requests.reset();
        let r = guess_id(&verifier, &old, &guess).await;
        assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
        assert_eq!(stack.requests.by_operation(), refused_write());
    }
    assert_eq!(verifier.status(&new).await.unwrap().attempts_left, 5);
    guess_id(&verifier, &new, &new_code).await.unwrap();
    // Two codes back, the item no longer holds it: still expired, from the id itself.
    stack.clock.advance(30);
    stack.send_for_id(&number, &ANYONE).await;
    assert_eq!(
        verifier.status(&old).await.unwrap().status,
        VerificationStatus::Expired
    );
    assert_eq!(
        verifier.status(&new).await.unwrap().status,
        VerificationStatus::Approved
    );
}

#[tokio::test]
async fn the_status_tells_expired_and_spent_codes_and_forgets_ids_after_the_retention() {
    let stack = Stack::new("OTP_MAX_ATTEMPTS=3 OTP_VERIFICATION_RETENTION_SECONDS=7200").await;
    let verifier = stack.verifier();
    let (code, spent) = stack.send_for_id(&us(7), &ANYONE).await;
    for _ in 0..3 {
        let _ = guess_id(&verifier, &spent, &wrong(&code)).await;
    }
    let r = guess_id(&verifier, &spent, &code).await;
    assert!(matches!(r, Err(OtpError::TooManyAttempts { .. })), "{r:?}");
    let status = verifier.status(&spent).await.unwrap();
    assert_eq!(status.status, VerificationStatus::MaxAttemptsReached);
    assert_eq!(status.attempts_left, 0);
    let (_, timed_out) = stack.send_for_id(&us(8), &ANYONE).await;
    stack.clock.advance(301);
    let status = verifier.status(&timed_out).await.unwrap();
    assert_eq!(
        (status.status, status.expires_in),
        (VerificationStatus::Expired, None)
    );
    // Past the retention, counted from the send.
    stack.clock.advance(7200 - 301);
    let r = verifier.status(&timed_out).await;
    assert!(matches!(r, Err(OtpError::NotFound)), "{r:?}");
    assert_eq!(answer(&r.unwrap_err()).0, 404);
    // Two weeks on, the id's ten-minute count comes round again: still 404, not a new id.
    stack.clock.advance(2048 * 600 - 7200);
    for id in [&timed_out, &spent] {
        let r = verifier.status(id).await;
        assert!(matches!(r, Err(OtpError::NotFound)), "{r:?}");
    }
}

#[tokio::test]
async fn a_cancelled_verification_never_verifies_and_cancelling_an_ended_one_changes_nothing() {
    let stack = Stack::new("").await;
    let number = us(9);
    let (code, id) = stack.send_for_id(&number, &ANYONE).await;
    let verifier = stack.verifier();
    stack.requests.reset();
    let cancelled = verifier.cancel(&id).await.unwrap();
    stack.assert_requests(1);
    assert_eq!(cancelled.status, VerificationStatus::Canceled);
    assert_eq!((cancelled.attempts_left, cancelled.expires_in), (0, None));
    for r in [
        guess_id(&verifier, &id, &code).await,
        verifier.guess(&number, &code).await,
    ] {
        assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    }
    assert_eq!(
        verifier.status(&id).await.unwrap().status,
        VerificationStatus::Canceled
    );
    // Approved, then cancelled: still approved, and nothing written.
    stack.clock.advance(30);
    let (code, approved) = stack.send_for_id(&number, &ANYONE).await;
    guess_id(&verifier, &approved, &code).await.unwrap();
    let before = stack.phone_items().await;
    assert_eq!(
        verifier.cancel(&approved).await.unwrap().status,
        VerificationStatus::Approved
    );
    assert_eq!(stack.phone_items().await, before);
}

/// The request cost of each operation by id, as the README states it: a wrong guess one
/// write, a right one two, a status one read, a cancel one write, a send still one write.
#[tokio::test]
async fn each_operation_by_id_costs_what_the_readme_says() {
    // The deployment's sends-per-minute counter off: only the phone item is written.
    let stack = Stack::new("OTP_MAX_SENDS_PER_MINUTE=0").await;
    let sender = stack.sender();
    let verifier = stack.verifier();
    stack.requests.reset();
    let sent = sender.send(&us(12), &ANYONE).await.unwrap();
    stack.assert_requests(1);
    let code = stack.plivo.last_code().await;
    let id = sent.verification_id;
    stack.requests.reset();
    let _ = guess_id(&verifier, &id, &wrong(&code)).await;
    assert_eq!(
        stack.requests.by_operation(),
        operations(&[("UpdateItem", 1)])
    );
    stack.requests.reset();
    verifier.status(&id).await.unwrap();
    assert_eq!(stack.requests.by_operation(), operations(&[("GetItem", 1)]));
    stack.requests.reset();
    guess_id(&verifier, &id, &code).await.unwrap();
    assert_eq!(
        stack.requests.by_operation(),
        operations(&[("UpdateItem", 2)])
    );
    stack.clock.advance(30);
    let sent = sender.send(&us(12), &ANYONE).await.unwrap();
    stack.requests.reset();
    verifier.cancel(&sent.verification_id).await.unwrap();
    assert_eq!(
        stack.requests.by_operation(),
        operations(&[("UpdateItem", 1)])
    );
}

/// The 31-second denial: the owner asks for a code; a stranger guesses it wrong five times by
/// number, waits out the cooldown, asks for another code and guesses that wrong five times,
/// spending the number's hourly failure budget. The owner's next code must still verify.
#[tokio::test]
async fn a_strangers_wrong_guesses_never_keep_the_owner_from_a_new_code() {
    let stack = Stack::new("").await;
    let owner_number = us(13);
    let stranger = from("198.51.100.7");
    let verifier = stack.verifier();
    let owner_first = stack.send(&owner_number, &ANYONE).await;
    for _ in 0..5 {
        let _ = stack
            .verify(&owner_number, &wrong(&owner_first), &stranger)
            .await;
    }
    stack.clock.advance(30);
    let strangers_code = stack.send(&owner_number, &stranger).await;
    for _ in 0..5 {
        let _ = stack
            .verify(&owner_number, &wrong(&strangers_code), &stranger)
            .await;
    }
    stack.clock.advance(1);
    // 31 seconds in. The owner asks again: a code comes, and by its id it verifies.
    stack.clock.advance(29);
    let (code, id) = stack.send_for_id(&owner_number, &ANYONE).await;
    assert_eq!(verifier.status(&id).await.unwrap().attempts_left, 5);
    guess_id(&verifier, &id, &code).await.unwrap();
}

/// With ids required, a guess by number alone is refused before anything is counted.
#[tokio::test]
async fn with_ids_required_a_guess_by_number_alone_is_refused_and_counts_nothing() {
    let stack = Stack::new("OTP_REQUIRE_VERIFICATION_ID=true").await;
    let number = us(14);
    let (code, id) = stack.send_for_id(&number, &ANYONE).await;
    let verifier = stack.verifier();
    stack.requests.reset();
    let r = verifier.guess(&number, &code).await;
    let (status, body) = answer(&r.unwrap_err());
    assert_eq!(status, 400);
    assert!(body.contains("verificationId is required"), "{body}");
    stack.assert_requests(0);
    assert_eq!(verifier.status(&id).await.unwrap().attempts_left, 5);
    guess_id(&verifier, &id, &code).await.unwrap();
}

/// Eight instances guess the right code by id at once, 20 trials: exactly one is accepted in
/// every trial.
#[tokio::test]
async fn concurrent_right_codes_by_id_are_accepted_exactly_once() {
    const TRIALS: u32 = 20;
    let stack = Arc::new(Stack::new("").await);
    for trial in 0..TRIALS {
        let (code, id) = stack.send_for_id(&us(100 + trial), &ANYONE).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (verifier, barrier) = (stack.patient_verifier(), barrier.clone());
                let (code, id) = (code.clone(), id.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    guess_id(&verifier, &id, &code).await
                })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => accepted += 1,
                // Used up by another, or beyond the code's five counted guesses.
                Err(OtpError::InvalidOtp | OtpError::TooManyAttempts { .. }) => {}
                other => panic!("trial {trial}: unexpected {other:?}"),
            }
        }
        assert_eq!(accepted, 1, "trial {trial}");
    }
}

/// Forty instances guess wrong by id at once, 10 trials: never more than `OTP_MAX_ATTEMPTS`
/// (5) are compared, and the right code is refused after them.
#[tokio::test]
async fn concurrent_wrong_guesses_by_id_are_compared_at_most_max_attempts_times() {
    const TRIALS: u32 = 10;
    let stack = Arc::new(Stack::new("").await);
    let mut compared_per_trial = Vec::new();
    for trial in 0..TRIALS {
        let (code, id) = stack.send_for_id(&us(200 + trial), &ANYONE).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(40));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (verifier, barrier) = (stack.patient_verifier(), barrier.clone());
                let (guess, id) = (wrong(&code), id.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    guess_id(&verifier, &id, &guess).await
                })
            })
            .collect();
        let mut compared = 0;
        for task in tasks {
            match task.await.unwrap() {
                Err(OtpError::InvalidOtp) => compared += 1,
                Err(OtpError::TooManyAttempts { .. }) => {}
                other => panic!("trial {trial}: unexpected {other:?}"),
            }
        }
        compared_per_trial.push(compared);
        let r = guess_id(&stack.verifier(), &id, &code).await;
        assert!(matches!(r, Err(OtpError::TooManyAttempts { .. })), "{r:?}");
    }
    // The guess that spends the fifth attempt answers 429, so at most four read as 401.
    assert!(
        compared_per_trial.iter().all(|&c| c <= 4),
        "{compared_per_trial:?}"
    );
}

/// A resend whose SMS fails puts the previous code back, and with it its verification: the
/// first id still verifies, with the attempts it had left.
#[tokio::test]
async fn a_failed_resend_gives_the_previous_verification_back() {
    let plivo = Plivo::accepting_once_then_failing(std::time::Duration::ZERO).await;
    let stack = Stack::with_plivo(plivo, "").await;
    let number = us(15);
    let (first, id) = stack.send_for_id(&number, &ANYONE).await;
    let verifier = stack.verifier();
    let _ = guess_id(&verifier, &id, &wrong(&first)).await;
    stack.clock.advance(30);
    let r = stack.sender().send(&number, &ANYONE).await;
    assert!(matches!(r, Err(OtpError::SmsFailed(_))), "{r:?}");
    let status = verifier.status(&id).await.unwrap();
    assert_eq!(
        (status.status, status.attempts_left),
        (VerificationStatus::Pending, 4)
    );
    guess_id(&verifier, &id, &first).await.unwrap();
}

/// An id whose sealed number was edited (AES-CTR lets bits be flipped in place) never opens,
/// whatever its tag's last byte: the status of 24 edits × 256 tags is 404 every time, with no
/// DynamoDB request. (With a one-byte tag, about one in 256 opened and the status showed the
/// edited number masked: 3,100 requests recovered a whole number.)
#[tokio::test]
async fn an_edited_id_never_opens_so_the_status_cannot_decrypt_the_number() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let stack = Stack::new("").await;
    let (_, id) = stack.send_for_id(&phone("+14155552671"), &ANYONE).await;
    let verifier = stack.verifier();
    let real = URL_SAFE_NO_PAD.decode(id.as_string()).unwrap();
    stack.requests.reset();
    let mut opened = 0;
    for k in 0..24 {
        for tag in 0..=255u8 {
            let mut bytes = real.clone();
            // The number is the sealed part's low 50 bits, in bytes 16..23 (big-endian).
            bytes[22 - k / 8] ^= 1 << (k % 8);
            bytes[26] = tag;
            let edited = VerificationId::parse(&URL_SAFE_NO_PAD.encode(&bytes)).unwrap();
            match verifier.status(&edited).await {
                Err(OtpError::NotFound) => {}
                other => {
                    opened += 1;
                    eprintln!("bit {k}, tag byte {tag}: {other:?}");
                }
            }
        }
    }
    assert_eq!(opened, 0);
    stack.assert_requests(0);
}

/// A cancel that lands while a resend's SMS is still being tried: the verification the resend
/// replaced is cancelled too, so when the SMS fails and the old code is put back, its id stays
/// cancelled and its code never verifies.
#[tokio::test]
async fn a_cancel_during_a_failing_resend_is_not_undone() {
    let delay = std::time::Duration::from_millis(700);
    let plivo = Plivo::accepting_once_then_failing(delay).await;
    let stack = Arc::new(Stack::with_plivo(plivo, "").await);
    let number = us(16);
    let (first, id) = stack.send_for_id(&number, &ANYONE).await;
    let verifier = stack.verifier();
    stack.clock.advance(30);
    let resending = stack.clone();
    let resend_to = number.clone();
    let resend = tokio::spawn(async move { resending.sender().send(&resend_to, &ANYONE).await });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let cancelled = verifier.cancel(&id).await.unwrap();
    assert_eq!(cancelled.status, VerificationStatus::Canceled);
    let r = resend.await.unwrap();
    assert!(matches!(r, Err(OtpError::SmsFailed(_))), "{r:?}");
    assert_eq!(
        verifier.status(&id).await.unwrap().status,
        VerificationStatus::Canceled
    );
    let r = guess_id(&verifier, &id, &first).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    let r = verifier.guess(&number, &first).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
}

/// A cancel and the right code by id, released together, 20 trials: never both succeed (the
/// cancel removes the code, and the consume is conditional on it), and each trial ends with
/// the status the winner left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_racing_the_right_code_never_lets_both_succeed() {
    const TRIALS: u32 = 20;
    let stack = Arc::new(Stack::new("").await);
    let (mut cancelled, mut verified) = (0, 0);
    for trial in 0..TRIALS {
        let (code, id) = stack.send_for_id(&us(300 + trial), &ANYONE).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (canceller, guesser) = (stack.patient_verifier(), stack.patient_verifier());
        let (b1, b2, id1, id2) = (barrier.clone(), barrier, id.clone(), id.clone());
        let cancel = tokio::spawn(async move {
            b1.wait().await;
            canceller.cancel(&id1).await.unwrap().status
        });
        let guess = tokio::spawn(async move {
            b2.wait().await;
            guess_id(&guesser, &id2, &code).await
        });
        let (cancel, guess) = (cancel.await.unwrap(), guess.await.unwrap());
        let status = stack.verifier().status(&id).await.unwrap().status;
        match (cancel, &guess) {
            (VerificationStatus::Canceled, Err(OtpError::InvalidOtp)) => {
                cancelled += 1;
                assert_eq!(status, VerificationStatus::Canceled, "trial {trial}");
            }
            (VerificationStatus::Approved, Ok(())) => {
                verified += 1;
                assert_eq!(status, VerificationStatus::Approved, "trial {trial}");
            }
            other => panic!("trial {trial}: cancel and verify answered {other:?}"),
        }
    }
    eprintln!("{cancelled} cancelled first, {verified} verified first, of {TRIALS}");
}
