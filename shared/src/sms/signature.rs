//! Plivo's request signatures, which prove a callback comes from Plivo: `X-Plivo-Signature-V3`
//! (HMAC-SHA256 with the auth token over the URL with its query parameters sorted, then, for a
//! POST, the sorted form parameters, then `.` and the `X-Plivo-Signature-V3-Nonce`; the header
//! may hold several comma-separated signatures, any of which may match) and the older
//! `X-Plivo-Signature-V2` (over the URL without its query, then the nonce). Written from
//! Plivo's documentation; the tests check vectors computed with Plivo's Python SDK
//! (`scripts/plivo_signature_vectors.py`).
//!
//! The URL is the public one Plivo was given (`OTP_PUBLIC_BASE_URL` and the path), never the
//! host the Lambda event names.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The parameters of a query or a form body, decoded, by name, values sorted.
fn sorted_params<'a>(
    pairs: impl Iterator<Item = (String, String)> + 'a,
) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in pairs {
        map.entry(key).or_default().push(value);
    }
    for values in map.values_mut() {
        values.sort();
    }
    map
}

fn decode(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// `url` without its query and fragment, and its query.
fn split_url(url: &str) -> (&str, &str) {
    let url = url.split('#').next().unwrap_or_default();
    url.split_once('?').unwrap_or((url, ""))
}

/// The text a V3 signature covers, before `.nonce`: for a GET, the URL with its query sorted;
/// for a POST, the URL (with `?`, and its sorted query and `.` when it has one), then each form
/// parameter as name and value, sorted, with nothing between.
pub(crate) fn v3_base(method: &str, url: &str, form: &[(String, String)]) -> String {
    let (base, query) = split_url(url);
    let query = sorted_params(decode(query))
        .into_iter()
        .flat_map(|(k, vs)| vs.into_iter().map(move |v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join("&");
    let mut text = base.to_owned();
    if method.eq_ignore_ascii_case("GET") || form.is_empty() {
        if !query.is_empty() {
            text.push('?');
            text.push_str(&query);
        }
        return text;
    }
    text.push('?');
    if !query.is_empty() {
        text.push_str(&query);
        text.push('.');
    }
    for (key, values) in sorted_params(form.iter().cloned()) {
        for value in values {
            text.push_str(&key);
            text.push_str(&value);
        }
    }
    text
}

fn hmac_base64(token: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token).expect("HMAC takes any key length");
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The V3 signature of a request (for Plivo stand-ins and tests; the service only checks).
pub fn sign_v3(
    token: &str,
    method: &str,
    url: &str,
    form: &[(String, String)],
    nonce: &str,
) -> String {
    let base = v3_base(method, url, form);
    hmac_base64(token.as_bytes(), format!("{base}.{nonce}").as_bytes())
}

/// The V2 signature of a request: the URL without its query, then the nonce.
pub fn sign_v2(token: &str, url: &str, nonce: &str) -> String {
    let (base, _) = split_url(url);
    hmac_base64(token.as_bytes(), format!("{base}{nonce}").as_bytes())
}

/// Whether `header` (one or more comma-separated signatures) holds `expected`, compared in
/// constant time.
fn holds(header: &str, expected: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .fold(false, |found, candidate| {
            found | bool::from(candidate.as_bytes().ct_eq(expected.as_bytes()))
        })
}

/// The signature headers of a request, as received.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Signatures<'a> {
    pub(crate) v3: Option<(&'a str, &'a str)>,
    pub(crate) v2: Option<(&'a str, &'a str)>,
}

/// Whether the request is signed with `token`: by V3 when it carries a V3 signature, else by
/// V2. An empty nonce never passes.
pub(crate) fn verify(
    token: &str,
    method: &str,
    url: &str,
    form: &[(String, String)],
    signatures: Signatures<'_>,
) -> bool {
    match signatures {
        Signatures {
            v3: Some((signature, nonce)),
            ..
        } => !nonce.is_empty() && holds(signature, &sign_v3(token, method, url, form, nonce)),
        Signatures {
            v2: Some((signature, nonce)),
            ..
        } => !nonce.is_empty() && holds(signature, &sign_v2(token, url, nonce)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "MjAxNi1wbGl2by10ZXN0LXRva2VuLXZhbHVl";
    const NONCE: &str = "12345678901234567890";

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// (method, URL, form, the SDK's base text, the SDK's signature), from
    /// `scripts/plivo_signature_vectors.py` run with Plivo's Python SDK.
    type Vector = (
        &'static str,
        &'static str,
        Vec<(String, String)>,
        &'static str,
        &'static str,
    );

    #[test]
    fn v3_matches_plivos_sdk() {
        let status = form(&[
            ("ErrorCode", "000"),
            ("MessageUUID", "db3ce55a-7f1d-11e1-8ea7-1231380bc196"),
            ("Status", "delivered"),
            ("To", "14155552671"),
        ]);
        let cases: [Vector; 6] = [
            (
                "POST",
                "https://otp.example.com/plivo/callback/status",
                status,
                "https://otp.example.com/plivo/callback/status?ErrorCode000MessageUUIDdb3ce55a-7f1d-11e1-8ea7-1231380bc196StatusdeliveredTo14155552671",
                "BSB0VldnNmJ8i8OBoMbuNMIPZBCzGSlWfCKNVoYIV3Q=",
            ),
            (
                "POST",
                "https://otp.example.com/plivo/callback/status?call=7&a=b",
                form(&[("Status", "sent"), ("MessageUUID", "m-1")]),
                "https://otp.example.com/plivo/callback/status?a=b&call=7.MessageUUIDm-1Statussent",
                "OWV0Jg7PI020Sg/ewTxFmaw/6FGXtC/L6ZN+w6gTdqM=",
            ),
            (
                "POST",
                "https://otp.example.com/plivo/answer",
                Vec::new(),
                "https://otp.example.com/plivo/answer",
                "agj2tvY55a16LsSt1iYSCxK84YzxlfOOkMfYpTjhqGI=",
            ),
            (
                "POST",
                "https://otp.example.com/plivo/answer?t=abc%2Bdef&b=1",
                Vec::new(),
                "https://otp.example.com/plivo/answer?b=1&t=abc+def",
                "lrB3Wamkpyh5wIh5DvQ4cXL/W9pT4om5Nt3a/Qcbf3s=",
            ),
            (
                "GET",
                "https://otp.example.com/plivo/answer?t=abc%2Bdef&b=1&b=0",
                Vec::new(),
                "https://otp.example.com/plivo/answer?b=0&b=1&t=abc+def",
                "YhoYa58HzH+WUBbcikUsAdJ+YDjYxFPmcMti/3D9n1Q=",
            ),
            (
                "GET",
                "https://otp.example.com/plivo/answer",
                Vec::new(),
                "https://otp.example.com/plivo/answer",
                "agj2tvY55a16LsSt1iYSCxK84YzxlfOOkMfYpTjhqGI=",
            ),
        ];
        for (method, url, form, base, signature) in cases {
            assert_eq!(v3_base(method, url, &form), base, "{method} {url}");
            assert_eq!(
                sign_v3(TOKEN, method, url, &form, NONCE),
                signature,
                "{method} {url}"
            );
            let header = format!("bm90LXRoaXMtb25l,{signature}");
            let signed = Signatures {
                v3: Some((&header, NONCE)),
                v2: None,
            };
            assert!(verify(TOKEN, method, url, &form, signed), "{method} {url}");
        }
    }

    #[test]
    fn v2_matches_plivos_sdk_and_ignores_the_query() {
        let url = "https://otp.example.com/plivo/callback/status?x=1";
        let expected = "xjodF+rDM9PReCpSmeyR5GjyNZKFtFEd3DsrSWykEt8=";
        assert_eq!(sign_v2(TOKEN, url, NONCE), expected);
        let signed = Signatures {
            v3: None,
            v2: Some((expected, NONCE)),
        };
        assert!(verify(TOKEN, "POST", url, &[], signed));
    }

    #[test]
    fn anything_else_fails() {
        let url = "https://otp.example.com/plivo/callback/status";
        let body = form(&[("Status", "delivered"), ("MessageUUID", "m-1")]);
        let good = sign_v3(TOKEN, "POST", url, &body, NONCE);
        let check = |token: &str, url: &str, body: &[(String, String)], sig: &str, nonce: &str| {
            verify(
                token,
                "POST",
                url,
                body,
                Signatures {
                    v3: Some((sig, nonce)),
                    v2: None,
                },
            )
        };
        assert!(check(TOKEN, url, &body, &good, NONCE));
        assert!(!check("another-token", url, &body, &good, NONCE));
        assert!(!check(
            TOKEN,
            "https://attacker.example/plivo/callback/status",
            &body,
            &good,
            NONCE
        ));
        let tampered = form(&[("Status", "failed"), ("MessageUUID", "m-1")]);
        assert!(!check(TOKEN, url, &tampered, &good, NONCE));
        assert!(!check(TOKEN, url, &body, &good, "another-nonce"));
        assert!(!check(TOKEN, url, &body, &good[..good.len() - 1], NONCE));
        assert!(!check(TOKEN, url, &body, "", NONCE));
        // With no nonce, or no signature at all, nothing passes (not even V2 beside a V3).
        assert!(!check(TOKEN, url, &body, &good, ""));
        assert!(!verify(TOKEN, "POST", url, &body, Signatures::default()));
        let v2 = sign_v2(TOKEN, url, NONCE);
        let both = Signatures {
            v3: Some(("forged", NONCE)),
            v2: Some((&v2, NONCE)),
        };
        assert!(
            !verify(TOKEN, "POST", url, &body, both),
            "V3 present: V2 is not consulted"
        );
    }
}
