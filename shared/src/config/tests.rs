//! The settings groups, read from tables of variables.

use std::collections::HashMap;

use super::env::FromEnv;
use super::otp::DEFAULT_ALLOWED_NUMBER_TYPES;
use super::otp::PHONE_REGIONS;
use super::plivo::DEFAULT_PLIVO_API_URL;
use super::*;
use crate::domain::{Limit, Messages, NumberType};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn otp(pairs: &[(&str, &str)]) -> Result<OtpConfig, ConfigError> {
    let mut all = vec![
        ("OTP_TABLE_NAME", "otp"),
        ("OTP_SECRET", SECRET),
        ("OTP_ALLOWED_COUNTRIES", "*"),
    ];
    all.extend_from_slice(pairs);
    OtpConfig::from_lookup(lookup(&all))
}

/// Each setting, alone, makes loading fail naming that setting.
fn assert_refused(cases: &[(&str, &str)]) {
    for (var, value) in cases {
        let err = otp(&[(var, value)]).unwrap_err();
        assert_eq!(err.var, *var, "{var}={value}");
    }
}

#[test]
fn defaults_apply_when_only_the_required_settings_are_given() {
    let cfg = otp(&[]).unwrap();
    assert_eq!(cfg.table_name, "otp");
    assert_eq!(cfg.code_length.get(), 6);
    assert_eq!(cfg.limits.code_ttl, 300);
    assert_eq!(cfg.limits.max_attempts, 5);
    assert_eq!(cfg.limits.resend_cooldown, 30);
    assert_eq!(cfg.limits.max_sends_per_hour, Limit::AtMost(5));
    assert_eq!(cfg.limits.max_failures_per_hour, Limit::AtMost(10));
}

#[test]
fn message_settings_are_read_and_checked_together() {
    let otp = |pairs: &[(&str, &str)]| Messages::from_lookup(lookup(pairs));
    assert_eq!(otp(&[]).unwrap().language(None, None), "en");
    let messages = otp(&[
        ("OTP_DEFAULT_LOCALE", "pt-BR"),
        ("OTP_MESSAGE_TEMPLATE_FR", "{code} est votre code"),
    ])
    .unwrap();
    assert_eq!(messages.language(None, None), "pt-BR");
    let long = format!("{{code}}{}", "a".repeat(200));
    let err = otp(&[("OTP_MESSAGE_TEMPLATE_FR", long.as_str())]).unwrap_err();
    assert_eq!(err.var, "OTP_MESSAGE_TEMPLATE_FR");
    assert!(
        otp(&[
            ("OTP_MESSAGE_TEMPLATE_FR", long.as_str()),
            ("OTP_ALLOW_MULTIPART", "true")
        ])
        .is_ok()
    );
    assert_eq!(
        otp(&[("OTP_ALLOW_MULTIPART", "yes")]).unwrap_err().var,
        "OTP_ALLOW_MULTIPART"
    );
    assert_eq!(
        otp(&[("OTP_DEFAULT_LOCALE", "xx-")]).unwrap_err().var,
        "OTP_DEFAULT_LOCALE"
    );
    assert_eq!(
        otp(&[("OTP_WEBOTP_DOMAIN", "nope")]).unwrap_err().var,
        "OTP_WEBOTP_DOMAIN"
    );
}

#[test]
fn missing_required_settings_name_the_variable() {
    let err = OtpConfig::from_lookup(lookup(&[("OTP_SECRET", SECRET)])).unwrap_err();
    assert_eq!(err.var, "OTP_TABLE_NAME");
    let err = OtpConfig::from_lookup(lookup(&[("OTP_TABLE_NAME", "t")])).unwrap_err();
    assert_eq!(err.var, "OTP_SECRET");
    let err = otp(&[("OTP_TABLE_NAME", "  ")]).unwrap_err();
    assert_eq!(err.var, "OTP_TABLE_NAME");
}

#[test]
fn a_short_secret_is_refused_without_echoing_it() {
    let err = otp(&[("OTP_SECRET", "too-short-secret")]).unwrap_err();
    assert_eq!(err.var, "OTP_SECRET");
    assert!(!err.to_string().contains("too-short-secret"));
}

#[test]
fn numbers_outside_their_range_are_refused() {
    assert_refused(&[
        ("OTP_DIGITS", "5"),
        ("OTP_DIGITS", "11"),
        ("OTP_DIGITS", "six"),
        ("OTP_EXPIRY_SECONDS", "59"),
        ("OTP_EXPIRY_SECONDS", "901"),
        ("OTP_MAX_ATTEMPTS", "0"),
        ("OTP_MAX_ATTEMPTS", "-1"),
        ("OTP_RESEND_COOLDOWN_SECONDS", "3601"),
        ("OTP_MAX_SENDS_PER_HOUR", "1.5"),
    ]);
}

#[test]
fn numbers_inside_their_range_are_taken() {
    let cfg = otp(&[
        ("OTP_DIGITS", "8"),
        ("OTP_EXPIRY_SECONDS", "600"),
        ("OTP_MAX_ATTEMPTS", "3"),
        ("OTP_RESEND_COOLDOWN_SECONDS", "0"),
        ("OTP_MAX_SENDS_PER_HOUR", "0"),
        ("OTP_MAX_FAILURES_PER_HOUR", " 20 "),
    ])
    .unwrap();
    assert_eq!(cfg.code_length.get(), 8);
    assert_eq!(cfg.limits.code_ttl, 600);
    assert_eq!(cfg.limits.max_attempts, 3);
    assert_eq!(cfg.limits.resend_cooldown, 0);
    assert_eq!(cfg.limits.max_sends_per_hour, Limit::Off);
    assert_eq!(cfg.limits.max_failures_per_hour, Limit::AtMost(20));
}

#[test]
fn defences_default_to_mobile_numbers_anywhere_with_per_ip_limits() {
    let d = otp(&[]).unwrap().defences;
    assert_eq!(d.allowed_countries, None);
    assert_eq!(
        d.allowed_number_types,
        DEFAULT_ALLOWED_NUMBER_TYPES.to_vec()
    );
    assert_eq!(d.max_sends_per_ip_per_hour, Limit::AtMost(20));
    assert_eq!(d.max_sends_per_prefix_per_hour, Limit::Off);
    assert_eq!(d.prefix_digits, 4);
    assert_eq!(d.max_sends_per_minute, Limit::AtMost(60));
    assert_eq!(d.max_failures_per_ip_per_hour, Limit::AtMost(50));
    assert_eq!(d.max_sends_per_ipv6_48_per_hour, Limit::AtMost(100));
    assert_eq!(d.max_failures_per_ipv6_48_per_hour, Limit::AtMost(250));
}

#[test]
fn the_allowed_countries_must_be_chosen() {
    let err = OtpConfig::from_lookup(lookup(&[("OTP_TABLE_NAME", "t"), ("OTP_SECRET", SECRET)]))
        .unwrap_err();
    assert_eq!(err.var, "OTP_ALLOWED_COUNTRIES");
    for empty in [" ", ",", " , "] {
        let err = otp(&[("OTP_ALLOWED_COUNTRIES", empty)]).unwrap_err();
        assert_eq!(err.var, "OTP_ALLOWED_COUNTRIES", "{empty:?}");
    }
    assert_eq!(otp(&[]).unwrap().defences.allowed_countries, None);
}

#[test]
fn the_region_list_is_the_phone_librarys() {
    let mut ours: Vec<&str> = PHONE_REGIONS.split(',').collect();
    ours.sort_unstable();
    let mut library: Vec<String> = rlibphonenumber::PHONE_NUMBER_UTIL
        .get_supported_regions()
        .map(|r| format!("{r:?}"))
        .collect();
    library.sort_unstable();
    assert_eq!(ours, library);
    // Two-letter codes without a numbering plan are refused.
    for code in ["AA", "ZZ", "EU", "UK"] {
        let err = otp(&[("OTP_ALLOWED_COUNTRIES", code)]).unwrap_err();
        assert_eq!(err.var, "OTP_ALLOWED_COUNTRIES", "{code}");
    }
}

#[test]
fn consecutive_failures_and_lockout_have_their_ranges() {
    let cfg = otp(&[]).unwrap();
    assert_eq!(cfg.limits.max_consecutive_failures, 100);
    assert_eq!(cfg.limits.lockout, 86_400);
    assert_refused(&[
        ("OTP_MAX_CONSECUTIVE_FAILURES", "9"),
        ("OTP_MAX_CONSECUTIVE_FAILURES", "101"),
        ("OTP_LOCKOUT_SECONDS", "3599"),
        ("OTP_PREFIX_DIGITS", "7"),
    ]);
}

#[test]
fn defences_parse_lists_and_limits() {
    use crate::domain::Region as Id;
    let d = otp(&[
        ("OTP_ALLOWED_COUNTRIES", "us, ca,GB"),
        ("OTP_ALLOWED_NUMBER_TYPES", "mobile,voip"),
        ("OTP_MAX_SENDS_PER_IP_PER_HOUR", "0"),
        ("OTP_MAX_SENDS_PER_MINUTE", "100"),
    ])
    .unwrap()
    .defences;
    assert_eq!(d.allowed_countries, Some(vec![Id::US, Id::CA, Id::GB]));
    assert_eq!(
        d.allowed_number_types,
        vec![NumberType::Mobile, NumberType::Voip]
    );
    assert_eq!(d.max_sends_per_ip_per_hour, Limit::Off);
    assert_eq!(d.max_sends_per_minute, Limit::AtMost(100));
    assert_refused(&[
        ("OTP_ALLOWED_COUNTRIES", "US,XX"),
        ("OTP_ALLOWED_COUNTRIES", "USA"),
        ("OTP_ALLOWED_NUMBER_TYPES", "mobile,landline"),
        ("OTP_PREFIX_DIGITS", "0"),
    ]);
}

#[test]
fn a_message_template_without_the_code_is_refused() {
    let pairs = [("OTP_MESSAGE_TEMPLATE", "Your code expires soon")];
    let err = Messages::from_lookup(lookup(&pairs)).unwrap_err();
    assert_eq!(err.var, "OTP_MESSAGE_TEMPLATE");
    assert_eq!(
        err.to_string(),
        "invalid configuration: OTP_MESSAGE_TEMPLATE: must contain {code}"
    );
}

#[test]
fn plivo_settings_are_required_and_checked() {
    let base = [
        ("PLIVO_AUTH_ID", "MAXXXXXXXXXXXXXXXXXX"),
        ("PLIVO_AUTH_TOKEN", "token"),
        ("PLIVO_SENDER_ID", "+14155550100"),
    ];
    let cfg = PlivoConfig::from_lookup(lookup(&base)).unwrap();
    assert_eq!(cfg.api_url, DEFAULT_PLIVO_API_URL);
    assert_eq!(cfg.log, PlivoLog::Off);
    for missing in ["PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN", "PLIVO_SENDER_ID"] {
        let pairs: Vec<_> = base
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        assert_eq!(
            PlivoConfig::from_lookup(lookup(&pairs)).unwrap_err().var,
            missing
        );
    }
    let mut with_url = base.to_vec();
    with_url.push(("PLIVO_API_URL", "http://127.0.0.1:9999/"));
    with_url.push(("PLIVO_LOG", "number_only"));
    let cfg = PlivoConfig::from_lookup(lookup(&with_url)).unwrap();
    assert_eq!(cfg.api_url, "http://127.0.0.1:9999");
    assert_eq!(cfg.log, PlivoLog::NumberOnly);
    let mut bad = base.to_vec();
    bad.push(("PLIVO_LOG", "yes"));
    assert_eq!(
        PlivoConfig::from_lookup(lookup(&bad)).unwrap_err().var,
        "PLIVO_LOG"
    );
}

#[test]
fn both_autofill_lines_with_an_ordinary_sign_in_host_fit_every_language_in_one_segment() {
    use secrecy::ExposeSecret;

    use crate::domain::{CodeLength, LANGUAGES, OtpCode, segments};

    let hash = "FA+9qCX9VSu";
    let shaped = Messages::from_lookup(lookup(&[
        ("OTP_WEBOTP_DOMAIN", "login.example.com"),
        ("OTP_ANDROID_APP_HASH", hash),
    ]))
    .expect("both autofill lines for a 17-character host start");
    let plain = Messages::from_lookup(lookup(&[])).unwrap();
    let code = OtpCode::parse("999999", CodeLength::new(6).unwrap()).unwrap();
    let lines = format!("\n\n{hash}\n@login.example.com #999999");
    let mut compact = Vec::new();
    for tag in LANGUAGES {
        let text = shaped.render(tag, &code, 300, Some(hash));
        let text = text.expose_secret();
        assert_eq!(segments(text).1, 1, "{tag}: {text}");
        let body = text.strip_suffix(&lines).expect("both lines, last");
        assert!(
            body.contains("999999") && body.contains('5'),
            "{tag}: {body}"
        );
        let full = plain.render(tag, &code, 300, None);
        if body != full.expose_secret() {
            compact.push(tag);
        }
    }
    // Only the languages whose full text cannot fit change; the others keep theirs.
    assert_eq!(
        compact,
        [
            "es", "pt", "pt-BR", "pl", "ru", "ar", "he", "hi", "vi", "th"
        ]
    );
}

#[test]
fn the_compact_texts_are_refused_too_when_even_they_cannot_fit() {
    let err = Messages::from_lookup(lookup(&[
        ("OTP_WEBOTP_DOMAIN", "accounts.login.example.com"),
        ("OTP_ANDROID_APP_HASH", "FA+9qCX9VSu"),
        ("OTP_BRAND", "Example Payments"),
        ("OTP_DIGITS", "10"),
    ]))
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("more than one SMS segment in "),
        "{message}"
    );
    for tag in ["ru (", "ar (", "ja ("] {
        assert!(message.contains(tag), "{message}");
    }
    assert!(!message.contains(" en ("), "{message}");
}
