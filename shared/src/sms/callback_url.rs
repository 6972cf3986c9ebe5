//! The two URLs Plivo calls back, written and parsed here and nowhere else: the status URL,
//! where Plivo reports a message's delivery, and the answer URL, where it fetches what a call
//! says. Both sit under `OTP_PUBLIC_BASE_URL` and carry what the callback needs in their
//! query, never a number or a code.

use crate::domain::{AnswerBinding, MessageRef, PhoneKey, Region};

/// The status route, after the public base URL.
pub(crate) const STATUS_PATH: &str = "/plivo/callback/status";
/// The answer route, after the public base URL.
pub(crate) const ANSWER_PATH: &str = "/plivo/callback/answer";

/// Decoded `name=value` pairs, in order: a query or a form body.
pub(crate) type Params = Vec<(String, String)>;

/// The pairs of a query or a form-encoded body.
pub(crate) fn params(text: &[u8]) -> Params {
    form_urlencoded::parse(text)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The one value of a parameter: absent, empty or repeated is none.
pub(crate) fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut values = pairs.iter().filter(|(k, _)| k == name);
    match (values.next(), values.next()) {
        (Some((_, v)), None) if !v.is_empty() => Some(v),
        _ => None,
    }
}

/// What a status URL names: the number's item, the code's message and the destination's
/// region (for the delivery metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusUrl {
    pub(crate) key: PhoneKey,
    pub(crate) message_ref: MessageRef,
    pub(crate) region: Option<Region>,
}

impl StatusUrl {
    pub(crate) fn to_url(&self, base: &str) -> String {
        let mut url = format!(
            "{base}{STATUS_PATH}?k={}&r={}",
            self.key.as_str(),
            self.message_ref.as_str()
        );
        if let Some(region) = self.region {
            url.push_str("&rg=");
            url.push_str(&region.to_string());
        }
        url
    }

    /// The status URL's query, read back; the error says what is missing or malformed.
    pub(crate) fn parse(query: &[(String, String)]) -> Result<Self, &'static str> {
        let key = single(query, "k")
            .and_then(PhoneKey::parse)
            .ok_or("the status URL must name the number's item (k)")?;
        let message_ref = single(query, "r")
            .and_then(MessageRef::parse)
            .ok_or("the status URL must name the message (r)")?;
        let region = match single(query, "rg") {
            Some(code) => Some(
                code.parse::<Region>()
                    .map_err(|_| "rg must be a region code")?,
            ),
            None => None,
        };
        Ok(Self {
            key,
            message_ref,
            region,
        })
    }
}

/// What an answer URL carries: what the ticket is bound to, and the sealed ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnswerUrl {
    pub(crate) binding: AnswerBinding,
    pub(crate) ticket: String,
}

impl AnswerUrl {
    pub(crate) fn to_url(&self, base: &str) -> String {
        let binding = &self.binding;
        format!(
            "{base}{ANSWER_PATH}?k={}&c={}&e={}&t={}",
            binding.key.as_str(),
            binding.call_id,
            binding.expires_at,
            self.ticket
        )
    }

    /// The answer URL's query, read back: none unless every part is there and well formed.
    pub(crate) fn parse(query: &[(String, String)]) -> Option<Self> {
        let key = single(query, "k").and_then(PhoneKey::parse)?;
        let call_id = single(query, "c")
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))?
            .to_owned();
        let expires_at = single(query, "e").and_then(|e| e.parse::<u64>().ok())?;
        let ticket = single(query, "t")?.to_owned();
        let binding = AnswerBinding {
            key,
            call_id,
            expires_at,
        };
        Some(Self { binding, ticket })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://otp.example.com/v1";

    fn query_of(url: &str, path: &str) -> Params {
        let query = url
            .strip_prefix(&format!("{BASE}{path}?"))
            .expect("the route under the base URL");
        params(query.as_bytes())
    }

    fn key() -> PhoneKey {
        PhoneKey::parse(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn a_status_url_reads_back_as_written() {
        for region in [Some(Region::BR), None] {
            let url = StatusUrl {
                key: key(),
                message_ref: MessageRef::generate(),
                region,
            };
            let text = url.to_url(BASE);
            assert_eq!(StatusUrl::parse(&query_of(&text, STATUS_PATH)), Ok(url));
        }
    }

    #[test]
    fn a_status_url_without_its_parts_is_refused() {
        let url = StatusUrl {
            key: key(),
            message_ref: MessageRef::generate(),
            region: Some(Region::GB),
        }
        .to_url(BASE);
        let query = query_of(&url, STATUS_PATH);
        for dropped in ["k", "r"] {
            let fewer: Params = query
                .iter()
                .filter(|(k, _)| k != dropped)
                .cloned()
                .collect();
            assert!(StatusUrl::parse(&fewer).is_err(), "{dropped}");
        }
        let mut bad_region = query.clone();
        bad_region.retain(|(k, _)| k != "rg");
        bad_region.push(("rg".into(), "XX1".into()));
        assert_eq!(
            StatusUrl::parse(&bad_region),
            Err("rg must be a region code")
        );
        let mut twice = query;
        twice.push(("k".into(), "ab".repeat(32)));
        assert!(StatusUrl::parse(&twice).is_err());
    }

    #[test]
    fn an_answer_url_reads_back_as_written() {
        let url = AnswerUrl {
            binding: AnswerBinding::new(key(), 1_700_000_000),
            ticket: "c2VhbGVk".to_owned(),
        };
        let text = url.to_url(BASE);
        let query = query_of(&text, ANSWER_PATH);
        assert_eq!(AnswerUrl::parse(&query), Some(url));
        for dropped in ["k", "c", "e", "t"] {
            let fewer: Params = query
                .iter()
                .filter(|(k, _)| k != dropped)
                .cloned()
                .collect();
            assert_eq!(AnswerUrl::parse(&fewer), None, "{dropped}");
        }
    }
}
