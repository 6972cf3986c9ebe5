//! The signed proof of verification: with a signing key, a right code earns an RS256 token
//! that a JWT library checks against the keys the verify function publishes.

use std::collections::BTreeSet;

use crate::common::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use lambda_http::{Body, Response};
use otp_shared::config::{FromEnv, TokenConfig};
use otp_shared::http::verify_otp;
use otp_shared::token::TokenIssuer;
use serde_json::{Value, json};

const ISSUER: &str = "https://otp.example.com";
const AUDIENCE: &str = "my-app";

/// A fresh RSA key: its PKCS#8 DER and its public SubjectPublicKeyInfo DER, base64.
fn rsa_key(size: KeySize) -> (String, String) {
    let key = KeyPair::generate(size).unwrap();
    let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key).unwrap();
    let public = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(key.public_key()).unwrap();
    (b64(private.as_ref()), b64(public.as_ref()))
}

fn token_settings(private: &str) -> String {
    format!(
        "OTP_TOKEN_SIGNING_KEY={private} OTP_TOKEN_ISSUER={ISSUER} OTP_TOKEN_AUDIENCE={AUDIENCE}"
    )
}

fn json_body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

async fn get(stack: &Stack, path: &str) -> Response<Body> {
    let mut ev: Value = serde_json::from_str(&event_text("jwks.json")).unwrap();
    ev["rawPath"] = path.into();
    ev["requestContext"]["http"]["path"] = path.into();
    let req = lambda_http::request::from_str(&ev.to_string()).unwrap();
    verify_otp(&stack.verifier(), req).await
}

/// Sends a code to the number and verifies it over the HTTP handler; returns the body.
async fn verified(stack: &Stack) -> Value {
    let code = stack.send(&phone("+14155552671"), &ANYONE).await;
    let body = json!({"phoneNumber": "+1 415 555 2671", "otp": code});
    let response = verify_otp(&stack.verifier(), event_with_body("verify-otp.json", body)).await;
    assert_eq!(response.status(), 200);
    json_body(&response)
}

/// Checks `token` as an application would: against the published keys, its issuer and its
/// audience.
fn check(token: &str, jwks: &Value, audience: &str) -> jsonwebtoken::errors::Result<Value> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let kid = jsonwebtoken::decode_header(token)?.kid.unwrap();
    let jwk = set.find(&kid).expect("the token's key is published");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let key = DecodingKey::from_jwk(jwk)?;
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
}

#[tokio::test]
async fn a_right_code_earns_a_token_that_names_only_the_verified_number() {
    let (private, _) = rsa_key(KeySize::Rsa2048);
    let stack = Stack::new(&token_settings(&private)).await;
    let body = verified(&stack).await;
    let token = body["token"].as_str().expect("a token");
    let jwks = json_body(&get(&stack, "/.well-known/jwks.json").await);

    let claims = check(token, &jwks, AUDIENCE).unwrap();
    let names: BTreeSet<_> = claims.as_object().unwrap().keys().cloned().collect();
    let expected = [
        "iss",
        "aud",
        "sub",
        "phone_number",
        "phone_number_verified",
        "iat",
        "exp",
        "jti",
    ];
    assert_eq!(names, expected.iter().map(|s| s.to_string()).collect());
    assert_eq!(claims["sub"], "+14155552671");
    assert_eq!(claims["phone_number"], "+14155552671");
    assert_eq!(claims["phone_number_verified"], true);
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 300);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!(iat.abs_diff(now.as_secs()) < 60);
    let jti =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims["jti"].as_str().unwrap());
    assert_eq!(jti.unwrap().len(), 16);

    // The header names the key by its RFC 7638 thumbprint, as the JWKS does.
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let published = &set.keys[0];
    let thumbprint = published
        .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .unwrap();
    assert_eq!(header.kid.as_deref(), Some(thumbprint.as_str()));

    // Nothing of the code or the stored hashes travels in it.
    let code = stack.plivo.last_code().await;
    let payload = token.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    assert!(!String::from_utf8(payload).unwrap().contains(&code));
}

#[tokio::test]
async fn a_token_for_another_audience_a_tampered_one_or_an_expired_one_is_refused() {
    let (private, _) = rsa_key(KeySize::Rsa2048);
    let stack = Stack::new(&token_settings(&private)).await;
    let token = verified(&stack).await["token"].as_str().unwrap().to_owned();
    let jwks = json_body(&get(&stack, "/.well-known/jwks.json").await);
    assert!(check(&token, &jwks, AUDIENCE).is_ok());
    assert!(check(&token, &jwks, "another-app").is_err());

    // Another number in the payload, the signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    claims["phone_number"] = "+14155550000".into();
    claims["sub"] = "+14155550000".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    );
    assert!(check(&forged, &jwks, AUDIENCE).is_err());

    // Expired: the shortest lifetime, checked after it.
    let short = format!("{} OTP_TOKEN_TTL_SECONDS=30", token_settings(&private));
    let stack = Stack::new(&short).await;
    let token = verified(&stack).await["token"].as_str().unwrap().to_owned();
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = 0;
    let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        30
    );
    validation.reject_tokens_expiring_in_less_than = 31;
    assert!(jsonwebtoken::decode::<Value>(&token, &key, &validation).is_err());
}

#[tokio::test]
async fn the_keys_and_the_discovery_document_are_published_for_caching() {
    let (private, _) = rsa_key(KeySize::Rsa2048);
    let stack = Stack::new(&token_settings(&private)).await;
    let jwks = verify_otp(&stack.verifier(), event("jwks.json")).await;
    assert_eq!(jwks.status(), 200);
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=300");
    let keys = json_body(&jwks)["keys"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0].get("d").is_none(), "a private part is published");

    let config = get(&stack, "/.well-known/openid-configuration").await;
    assert_eq!(config.status(), 200);
    assert_eq!(config.headers()["cache-control"], "public, max-age=300");
    let config = json_body(&config);
    assert_eq!(config["issuer"], ISSUER);
    assert_eq!(
        config["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json")
    );
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
}

#[tokio::test]
async fn without_a_key_verify_answers_as_before_and_the_key_routes_are_404() {
    let stack = Stack::new("").await;
    let body = verified(&stack).await;
    assert_eq!(
        body,
        json!({"success": true, "message": "OTP verified successfully"})
    );
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        let response = get(&stack, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(json_body(&response)["code"], "not_found");
    }
}

/// Rotation: the new key signs, the retired one stays published, so a token signed before
/// the rotation still checks until it expires.
#[tokio::test]
async fn tokens_signed_with_a_retired_key_still_check_while_it_is_listed() {
    let (old_private, old_public) = rsa_key(KeySize::Rsa2048);
    let before = Stack::new(&token_settings(&old_private)).await;
    let old_token = verified(&before).await["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (new_private, _) = rsa_key(KeySize::Rsa3072);
    let rotated = format!(
        "{} OTP_TOKEN_PREVIOUS_PUBLIC_KEYS={old_public}",
        token_settings(&new_private)
    );
    let after = Stack::new(&rotated).await;
    let new_token = verified(&after).await["token"].as_str().unwrap().to_owned();
    let jwks = json_body(&get(&after, "/.well-known/jwks.json").await);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert!(check(&new_token, &jwks, AUDIENCE).is_ok());
    assert!(check(&old_token, &jwks, AUDIENCE).is_ok());

    // Once the old key is no longer listed, its tokens no longer check.
    let without = Stack::new(&token_settings(&new_private)).await;
    let jwks = json_body(&get(&without, "/.well-known/jwks.json").await);
    let set: JwkSet = serde_json::from_value(jwks).unwrap();
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    assert!(set.find(&old_kid).is_none());
}

/// The PEM text of `der` under `label`.
fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Retired keys in the forms openssl prints (SubjectPublicKeyInfo or PKCS#1 PEM, or base64
/// DER), several in one setting: every one is published, and text that is not a key fails
/// init.
#[test]
fn every_retired_key_listed_is_published() {
    let (private, _) = rsa_key(KeySize::Rsa2048);
    let engine = base64::engine::general_purpose::STANDARD;
    let spki = || engine.decode(rsa_key(KeySize::Rsa2048).1).unwrap();
    // A 2048-bit key's SubjectPublicKeyInfo is a 24-byte header, then the PKCS#1 key.
    let (a, b, c, d) = (spki(), spki(), spki(), spki());
    let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let list = format!(
        "{}{}{}",
        pem_block("RSA PUBLIC KEY", &a[24..]),
        pem_block("RSA PUBLIC KEY", &b[24..]),
        pem_block("PUBLIC KEY", &c),
    );
    let published = |list: &str| -> Result<usize, String> {
        let issuer = load(&[
            ("OTP_TOKEN_SIGNING_KEY", &private),
            ("OTP_TOKEN_ISSUER", ISSUER),
            ("OTP_TOKEN_AUDIENCE", AUDIENCE),
            ("OTP_TOKEN_PREVIOUS_PUBLIC_KEYS", list),
        ]);
        let jwks = |i: TokenIssuer| serde_json::from_str::<Value>(i.jwks()).unwrap();
        let count = |i| jwks(i)["keys"].as_array().unwrap().len();
        issuer.map(|i| count(i.unwrap())).map_err(|e| e.to_string())
    };
    assert_eq!(published(&list), Ok(4));
    // A key listed twice, or the signing key itself (a rollback that left the list as it
    // was), is published once: repeated key ids make libraries such as jose refuse tokens.
    let own = {
        let key = base64::engine::general_purpose::STANDARD
            .decode(&private)
            .unwrap();
        let key = KeyPair::from_pkcs8(&key).unwrap();
        let spki = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(key.public_key());
        b64(spki.unwrap().as_ref())
    };
    assert_eq!(published(&format!("{own},{}", b64(&c))), Ok(2));
    assert_eq!(published(&format!("{},{}", b64(&c), b64(&c))), Ok(2));
    assert_eq!(published(&format!("{}, {}", b64(&c), b64(&d))), Ok(3));
    let junk = format!(
        "{}junk{}",
        pem_block("PUBLIC KEY", &a),
        pem_block("PUBLIC KEY", &b)
    );
    assert!(
        published(&junk)
            .unwrap_err()
            .contains("OTP_TOKEN_PREVIOUS_PUBLIC_KEYS")
    );
}

/// Reads the token settings from `pairs` and builds the issuer, as the function's init does.
fn load(pairs: &[(&str, &str)]) -> Result<Option<TokenIssuer>, otp_shared::config::ConfigError> {
    let lookup = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    let config = Option::<TokenConfig>::from_lookup(lookup)?;
    let clock = std::sync::Arc::new(otp_shared::clock::SystemClock);
    config.map(|c| TokenIssuer::new(c, clock)).transpose()
}

#[test]
fn a_pem_key_works_and_bad_token_settings_fail_init_naming_the_variable() {
    let (private, _) = rsa_key(KeySize::Rsa2048);
    let lines: Vec<&str> = private
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let key = ("OTP_TOKEN_SIGNING_KEY", private.as_str());
    let issuer = ("OTP_TOKEN_ISSUER", ISSUER);
    let audience = ("OTP_TOKEN_AUDIENCE", AUDIENCE);
    assert!(
        load(&[("OTP_TOKEN_SIGNING_KEY", &pem), issuer, audience])
            .unwrap()
            .is_some()
    );
    assert!(load(&[key, issuer, audience]).unwrap().is_some());
    assert!(load(&[]).unwrap().is_none());

    let garbage = "bm90IGEga2V5IGF0IGFsbA==";
    let trailing = format!("{pem}\nsomething else");
    let two_blocks = format!("{pem}{pem}");
    let broken_pem = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----";
    let cases: [(&[(&str, &str)], &str); 10] = [
        (
            &[("OTP_TOKEN_SIGNING_KEY", &trailing), issuer, audience],
            "OTP_TOKEN_SIGNING_KEY",
        ),
        (
            &[("OTP_TOKEN_SIGNING_KEY", &two_blocks), issuer, audience],
            "OTP_TOKEN_SIGNING_KEY",
        ),
        (
            &[("OTP_TOKEN_SIGNING_KEY", garbage), issuer, audience],
            "OTP_TOKEN_SIGNING_KEY",
        ),
        (
            &[("OTP_TOKEN_SIGNING_KEY", broken_pem), issuer, audience],
            "OTP_TOKEN_SIGNING_KEY",
        ),
        (&[key, issuer], "OTP_TOKEN_AUDIENCE"),
        (&[key, audience], "OTP_TOKEN_ISSUER"),
        (
            &[
                key,
                ("OTP_TOKEN_ISSUER", "http://otp.example.com"),
                audience,
            ],
            "OTP_TOKEN_ISSUER",
        ),
        (
            &[key, issuer, audience, ("OTP_TOKEN_TTL_SECONDS", "7200")],
            "OTP_TOKEN_TTL_SECONDS",
        ),
        (
            &[
                key,
                issuer,
                audience,
                ("OTP_TOKEN_PREVIOUS_PUBLIC_KEYS", garbage),
            ],
            "OTP_TOKEN_PREVIOUS_PUBLIC_KEYS",
        ),
        (&[issuer], "OTP_TOKEN_ISSUER"),
    ];
    for (pairs, var) in cases {
        let err = load(pairs).unwrap_err();
        assert_eq!(err.var, var, "{err}");
        assert!(!err.to_string().contains(&private[..20]), "{err}");
        assert!(!err.to_string().contains(garbage), "{err}");
    }
}

/// One code, one token: eight instances verifying the right code at once answer exactly one
/// token, with the one 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_right_codes_earn_exactly_one_token() {
    concurrent_right_codes_earn_one_token(false).await;
}

/// The same, by verification id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_right_codes_by_id_earn_exactly_one_token() {
    concurrent_right_codes_earn_one_token(true).await;
}

async fn concurrent_right_codes_earn_one_token(by_id: bool) {
    let (private, _) = rsa_key(KeySize::Rsa2048);
    let stack = Stack::new(&token_settings(&private)).await;
    let (code, id) = stack.send_for_id(&phone("+14155552671"), &ANYONE).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (verifier, barrier) = (stack.verifier(), barrier.clone());
        let body = if by_id {
            json!({"verificationId": id.as_string(), "otp": code})
        } else {
            json!({"phoneNumber": "+14155552671", "otp": code})
        };
        tasks.push(tokio::spawn(async move {
            let request = event_with_body("verify-otp.json", body);
            barrier.wait().await;
            let response = verify_otp(&verifier, request).await;
            (
                response.status().as_u16(),
                json_body(&response)["token"].is_string(),
            )
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|(_, token)| *token).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(status, token)| (*status == 200) == *token),
        "{answers:?}"
    );
}
