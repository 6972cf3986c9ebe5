//! Reading the environment: [`Env`], the one reader every settings group goes through, the
//! [`ConfigError`] that names a variable and never its value, and the URL policy.

use std::net::IpAddr;

use crate::domain::{Limit, NumberType};

/// A setting that is missing or does not parse. The message names the variable and never
/// repeats a secret value.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub(crate) problem: String,
}

pub(crate) fn problem(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// A group of settings, read once when a function starts.
pub trait FromEnv: Sized {
    /// Reads the settings through `lookup` (the process environment, with secrets read by
    /// ARN; or a test's table).
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError>;
}

/// Reads variables through a lookup, so tests need not touch the process environment.
pub(crate) struct Env<F: Fn(&str) -> Option<String>>(pub(crate) F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The value of `var`, when set to something other than white space.
    pub(crate) fn optional(&self, var: &'static str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    pub(crate) fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.optional(var)
            .ok_or_else(|| problem(var, "is required but not set"))
    }

    /// `true` or `false` in `var`, or `default`.
    pub(crate) fn flag(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(var).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(problem(var, "must be true or false")),
        }
    }

    /// A whole number in `allowed`, or `default`.
    pub(crate) fn number<T>(
        &self,
        var: &'static str,
        default: T,
        allowed: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let value = match self.optional(var) {
            None => default,
            Some(raw) => raw
                .trim()
                .parse::<T>()
                .map_err(|_| problem(var, format!("must be a whole number, got {raw:?}")))?,
        };
        if !allowed.contains(&value) {
            let (low, high) = (allowed.start(), allowed.end());
            let text = format!("must be between {low} and {high}, got {value}");
            return Err(problem(var, text));
        }
        Ok(value)
    }

    /// A limit where `0` switches it off.
    pub(crate) fn limit(&self, var: &'static str, default: u32) -> Result<Limit, ConfigError> {
        Ok(match self.number(var, default, 0..=1_000_000)? {
            0 => Limit::Off,
            n => Limit::AtMost(n),
        })
    }

    /// A comma-separated list of line types in `var`, or `default`.
    pub(crate) fn number_types(
        &self,
        var: &'static str,
        default: &[NumberType],
    ) -> Result<Vec<NumberType>, ConfigError> {
        let Some(list) = self.optional(var) else {
            return Ok(default.to_vec());
        };
        let number_type = |name: &str| {
            NumberType::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
                let names: Vec<_> = NumberType::ALL.iter().map(|t| t.as_str()).collect();
                let problem_text = format!("{name:?} is not one of {}", names.join(", "));
                problem(var, problem_text)
            })
        };
        list_items(&list).map(number_type).collect()
    }

    /// A URL under the policy of [`check_url`], without a trailing `/`.
    pub(crate) fn url(&self, var: &'static str, default: &str) -> Result<String, ConfigError> {
        let url = self.optional(var).unwrap_or_else(|| default.to_owned());
        let url = url.trim().trim_end_matches('/').to_owned();
        check_url(var, &url)?;
        Ok(url)
    }

    /// `OTP_PUBLIC_BASE_URL`, checked: an https:// origin, optionally with a path (a custom
    /// domain's base path), without a query or a fragment; a trailing `/` is dropped.
    pub(crate) fn public_base_url(&self) -> Result<Option<String>, ConfigError> {
        const VAR: &str = "OTP_PUBLIC_BASE_URL";
        let Some(text) = self.optional(VAR) else {
            return Ok(None);
        };
        let text = text.trim();
        check_url(VAR, text)?;
        if text.contains(['?', '#']) {
            return Err(problem(VAR, "must have no query or fragment"));
        }
        Ok(Some(text.trim_end_matches('/').to_owned()))
    }
}

/// The non-empty, trimmed items of a comma-separated list.
pub(crate) fn list_items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// `https://`, or plain `http://` to a loopback address only (a local stand-in): Plivo's URL
/// carries the Basic-auth token, and a token issuer's keys must come over TLS.
pub(crate) fn check_url(var: &'static str, text: &str) -> Result<(), ConfigError> {
    let refuse = |why: &str| Err(problem(var, why.to_owned()));
    let Ok(url) = reqwest::Url::parse(text) else {
        return refuse("must be an absolute https:// URL");
    };
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return refuse("must name a host");
    };
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => refuse("must be https:// (plain http only to a loopback address)"),
        _ => refuse("must be an https:// URL"),
    }
}
