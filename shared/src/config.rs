//! Configuration from the environment, read and checked once when a function starts.

use secrecy::{ExposeSecret, SecretString};

use crate::domain::{
    CodeLength, Defences, LANGUAGES, Limit, Limits, MessageSettings, Messages, NumberType, Region,
};

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

/// Settings both functions share.
#[derive(Debug, Clone)]
pub struct OtpConfig {
    pub table_name: String,
    pub(crate) secret: SecretString,
    pub(crate) code_length: CodeLength,
    /// The per-number limits.
    pub limits: Limits,
    /// The limits beyond one number, and the destinations allowed.
    pub defences: Defences,
    /// Send one cheap DynamoDB read during init, so the first request finds a connection
    /// (and, on AWS, a finished TLS handshake) ready.
    pub init_warm_up: bool,
    /// `OTP_PUBLIC_BASE_URL`: the API's address as Plivo reaches it (no trailing `/`): where
    /// Plivo reports deliveries and fetches a call's answer.
    pub public_base_url: Option<String>,
    /// `OTP_DELIVERY_RECEIPTS`: with a public URL, ask Plivo for each SMS's delivery reports.
    pub delivery_receipts: bool,
}

const DEFAULT_ALLOWED_NUMBER_TYPES: [NumberType; 2] =
    [NumberType::Mobile, NumberType::FixedLineOrMobile];

/// The regions libphonenumber has numbering plans for: what `OTP_ALLOWED_COUNTRIES` may name.
/// Checked against the library in a test; kept here so reading the configuration does not
/// load the phone metadata on the path of a cold start.
const PHONE_REGIONS: &str = "AC,AD,AE,AF,AG,AI,AL,AM,AO,AR,AS,AT,AU,AW,AX,AZ,BA,BB,BD,BE,BF,BG,\
BH,BI,BJ,BL,BM,BN,BO,BQ,BR,BS,BT,BW,BY,BZ,CA,CC,CD,CF,CG,CH,CI,CK,CL,CM,CN,CO,CR,CU,CV,CW,CX,CY,\
CZ,DE,DJ,DK,DM,DO,DZ,EC,EE,EG,EH,ER,ES,ET,FI,FJ,FK,FM,FO,FR,GA,GB,GD,GE,GF,GG,GH,GI,GL,GM,GN,GP,\
GQ,GR,GT,GU,GW,GY,HK,HN,HR,HT,HU,ID,IE,IL,IM,IN,IO,IQ,IR,IS,IT,JE,JM,JO,JP,KE,KG,KH,KI,KM,KN,KP,\
KR,KW,KY,KZ,LA,LB,LC,LI,LK,LR,LS,LT,LU,LV,LY,MA,MC,MD,ME,MF,MG,MH,MK,ML,MM,MN,MO,MP,MQ,MR,MS,MT,\
MU,MV,MW,MX,MY,MZ,NA,NC,NE,NF,NG,NI,NL,NO,NP,NR,NU,NZ,OM,PA,PE,PF,PG,PH,PK,PL,PM,PR,PS,PT,PW,PY,\
QA,RE,RO,RS,RU,RW,SA,SB,SC,SD,SE,SG,SH,SI,SJ,SK,SL,SM,SN,SO,SR,SS,ST,SV,SX,SY,SZ,TA,TC,TD,TG,TH,\
TJ,TK,TL,TM,TN,TO,TR,TT,TV,TW,TZ,UA,UG,US,UY,UZ,VA,VC,VE,VG,VI,VN,VU,WF,WS,XK,YE,YT,ZA,ZM,ZW";

/// The largest `OTP_PREFIX_DIGITS`: beyond six national digits a "range" is a handful of
/// numbers (US: 10,000 at six), which the per-number limits already cover.
const MAX_PREFIX_DIGITS: usize = 6;

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The defences beyond one number.
    fn defences(&self) -> Result<Defences, ConfigError> {
        Ok(Defences {
            allowed_countries: self.allowed_countries()?,
            allowed_number_types: self.allowed_number_types()?,
            max_sends_per_ip_per_hour: self.limit("OTP_MAX_SENDS_PER_IP_PER_HOUR", 20)?,
            max_sends_per_ipv6_48_per_hour: self
                .limit("OTP_MAX_SENDS_PER_IPV6_48_PER_HOUR", 100)?,
            max_sends_per_prefix_per_hour: self.limit("OTP_MAX_SENDS_PER_PREFIX_PER_HOUR", 0)?,
            prefix_digits: self.number("OTP_PREFIX_DIGITS", 4usize, 1..=MAX_PREFIX_DIGITS)?,
            max_sends_per_minute: self.limit("OTP_MAX_SENDS_PER_MINUTE", 60)?,
            max_failures_per_ip_per_hour: self.limit("OTP_MAX_FAILURES_PER_IP_PER_HOUR", 50)?,
            max_failures_per_ipv6_48_per_hour: self
                .limit("OTP_MAX_FAILURES_PER_IPV6_48_PER_HOUR", 250)?,
        })
    }

    /// `OTP_ALLOWED_COUNTRIES`: region codes, or `*` for all (`None`). Required.
    fn allowed_countries(&self) -> Result<Option<Vec<Region>>, ConfigError> {
        const VAR: &str = "OTP_ALLOWED_COUNTRIES";
        let list = self.required(VAR)?;
        if list.trim() == "*" {
            return Ok(None);
        }
        let region = |code: &str| {
            let upper = code.to_ascii_uppercase();
            PHONE_REGIONS
                .split(',')
                .any(|r| r == upper)
                .then(|| upper.parse::<Region>().ok())
                .flatten()
                .ok_or_else(|| {
                    let problem_text =
                        format!("{code:?} is not an ISO 3166 region code such as US or GB");
                    problem(VAR, problem_text)
                })
        };
        let regions = list_items(&list)
            .map(region)
            .collect::<Result<Vec<_>, _>>()?;
        if regions.is_empty() {
            return Err(problem(VAR, "must list region codes (e.g. US,CA) or be *"));
        }
        Ok(Some(regions))
    }

    /// `OTP_ALLOWED_NUMBER_TYPES`: line type names.
    /// `true` or `false` in `var`, or `default`.
    fn flag(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(var).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(problem(var, "must be true or false")),
        }
    }

    fn allowed_number_types(&self) -> Result<Vec<NumberType>, ConfigError> {
        self.number_types("OTP_ALLOWED_NUMBER_TYPES", &DEFAULT_ALLOWED_NUMBER_TYPES)
    }

    /// A comma-separated list of line types in `var`, or `default`.
    fn number_types(
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
}

/// The non-empty, trimmed items of a comma-separated list.
fn list_items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Settings for the Plivo client, needed by `send-otp` only.
#[derive(Debug, Clone)]
pub struct PlivoConfig {
    pub(crate) auth_id: String,
    pub(crate) auth_token: SecretString,
    pub(crate) sender_id: String,
    pub(crate) api_url: String,
    pub(crate) log: PlivoLog,
    /// The number voice calls come from: `PLIVO_VOICE_CALLER_ID`, else the sender id when it
    /// is a number.
    pub(crate) caller_id: Option<String>,
}

/// A phone number as Plivo takes a caller id: digits, optionally after a `+`.
fn is_phone_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Plivo's `log` field: what Plivo keeps of each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlivoLog {
    /// Plivo stores no content and masks the destination (the default here).
    Off,
    /// Plivo keeps number and content (Plivo's own default; for debugging).
    On,
    NumberOnly,
    ContentOnly,
}

const DEFAULT_PLIVO_API_URL: &str = "https://api.plivo.com";
const MIN_SECRET_BYTES: usize = 32;

/// Reads variables through `lookup`, so tests need not touch the process environment.
struct Env<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn optional(&self, var: &'static str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.optional(var)
            .ok_or_else(|| problem(var, "is required but not set"))
    }

    fn number<T>(
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
        if allowed.contains(&value) {
            Ok(value)
        } else {
            Err(problem(
                var,
                format!(
                    "must be between {} and {}, got {value}",
                    allowed.start(),
                    allowed.end()
                ),
            ))
        }
    }

    fn limit(&self, var: &'static str, default: u32) -> Result<Limit, ConfigError> {
        Ok(match self.number(var, default, 0..=1_000_000)? {
            0 => Limit::Off,
            n => Limit::AtMost(n),
        })
    }
}

/// Settings read once from the environment when a function starts.
pub trait FromEnv: Sized {
    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError>;

    /// Reads the settings from the process environment.
    fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The per-number limits.
    fn limits(&self) -> Result<Limits, ConfigError> {
        Ok(Limits {
            code_ttl: self.number("OTP_EXPIRY_SECONDS", 300u64, 60..=900)?,
            max_attempts: self.number("OTP_MAX_ATTEMPTS", 5u32, 1..=100)?,
            resend_cooldown: self.number("OTP_RESEND_COOLDOWN_SECONDS", 30u64, 0..=3600)?,
            max_sends_per_hour: self.limit("OTP_MAX_SENDS_PER_HOUR", 5)?,
            max_failures_per_hour: self.limit("OTP_MAX_FAILURES_PER_HOUR", 10)?,
            max_consecutive_failures: self.number(
                "OTP_MAX_CONSECUTIVE_FAILURES",
                100u32,
                10..=100,
            )?,
            lockout: self.number("OTP_LOCKOUT_SECONDS", 86_400u64, 3_600..=2_592_000)?,
        })
    }
}

impl FromEnv for OtpConfig {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let table_name = env.required("OTP_TABLE_NAME")?;
        let secret = SecretString::from(env.required("OTP_SECRET")?);
        if secret.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(problem(
                "OTP_SECRET",
                format!("must be at least {MIN_SECRET_BYTES} bytes long"),
            ));
        }
        let digits = env.number("OTP_DIGITS", 6u8, CodeLength::MIN..=CodeLength::MAX)?;
        let code_length = CodeLength::new(digits).expect("range checked above");
        let limits = env.limits()?;
        let defences = env.defences()?;
        let init_warm_up = env.flag("OTP_INIT_WARMUP", true)?;
        let public_base_url = env
            .optional("OTP_PUBLIC_BASE_URL")
            .map(|url| public_base_url(url.trim()))
            .transpose()?;
        let delivery_receipts = env.flag("OTP_DELIVERY_RECEIPTS", true)?;
        Ok(Self {
            table_name,
            secret,
            code_length,
            limits,
            defences,
            init_warm_up,
            public_base_url,
            delivery_receipts,
        })
    }
}

/// The message settings, which only send-otp reads: the languages' texts, the brand and the
/// autofill lines, checked at start against the code length and validity in `otp`.
pub fn messages_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
    otp: &OtpConfig,
) -> Result<Messages, ConfigError> {
    let env = Env(lookup);
    let allow_multipart = match env
        .optional("OTP_ALLOW_MULTIPART")
        .as_deref()
        .map(str::trim)
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(problem("OTP_ALLOW_MULTIPART", "must be true or false")),
    };
    let settings = MessageSettings {
        default_locale: env.optional("OTP_DEFAULT_LOCALE"),
        default_text: env.optional("OTP_MESSAGE_TEMPLATE"),
        texts: LANGUAGES
            .iter()
            .filter_map(|(tag, var)| env.optional(var).map(|text| (*tag, text)))
            .collect(),
        brand: env.optional("OTP_BRAND"),
        web_otp_domain: env.optional("OTP_WEBOTP_DOMAIN"),
        app_hashes: env.optional("OTP_ANDROID_APP_HASH"),
        allow_multipart,
    };
    Messages::new(settings, otp.code_length, otp.limits.code_ttl)
        .map_err(|e| problem(e.var, e.problem))
}

impl FromEnv for PlivoConfig {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let auth_id = env.required("PLIVO_AUTH_ID")?;
        if !auth_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(problem("PLIVO_AUTH_ID", "must be letters and digits only"));
        }
        let auth_token = SecretString::from(env.required("PLIVO_AUTH_TOKEN")?);
        let sender_id = env.required("PLIVO_SENDER_ID")?;
        let api_url = env
            .optional("PLIVO_API_URL")
            .unwrap_or_else(|| DEFAULT_PLIVO_API_URL.to_owned());
        let api_url = api_url.trim().trim_end_matches('/').to_owned();
        check_url("PLIVO_API_URL", &api_url)?;
        let log = match env.optional("PLIVO_LOG").as_deref().map(str::trim) {
            None | Some("false") => PlivoLog::Off,
            Some("true") => PlivoLog::On,
            Some("number_only") => PlivoLog::NumberOnly,
            Some("content_only") => PlivoLog::ContentOnly,
            Some(_) => {
                return Err(problem(
                    "PLIVO_LOG",
                    "must be one of false, true, number_only, content_only",
                ));
            }
        };
        let caller_id = match env.optional("PLIVO_VOICE_CALLER_ID") {
            Some(id) if is_phone_number(id.trim()) => Some(id.trim().to_owned()),
            Some(_) => {
                return Err(problem(
                    "PLIVO_VOICE_CALLER_ID",
                    "must be a phone number in international format, e.g. +14155550100",
                ));
            }
            None => is_phone_number(&sender_id).then(|| sender_id.clone()),
        };
        Ok(Self {
            auth_id,
            auth_token,
            sender_id,
            api_url,
            log,
            caller_id,
        })
    }
}

/// `https://`, or plain `http://` to a loopback address only (a local stand-in): Plivo's URL
/// carries the Basic-auth token, and a token issuer's keys must come over TLS.
fn check_url(var: &'static str, text: &str) -> Result<(), ConfigError> {
    use std::net::IpAddr;
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

/// `OTP_PUBLIC_BASE_URL`, checked: an https:// origin, optionally with a path (a custom
/// domain's base path), without a query or a fragment; a trailing `/` is dropped.
fn public_base_url(text: &str) -> Result<String, ConfigError> {
    const VAR: &str = "OTP_PUBLIC_BASE_URL";
    check_url(VAR, text)?;
    if text.contains(['?', '#']) {
        return Err(problem(VAR, "must have no query or fragment"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// The voice channel's settings (send-otp only): present when `OTP_VOICE_ENABLED=true`.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Line types calls may go to (landlines too by default: they cannot take an SMS).
    pub(crate) allowed_number_types: Vec<NumberType>,
    /// Calls the whole deployment may place per hour.
    pub(crate) max_calls_per_hour: Limit,
    /// Calls one number may receive per hour.
    pub(crate) max_calls_per_number_per_hour: Limit,
}

const DEFAULT_VOICE_NUMBER_TYPES: [NumberType; 3] = [
    NumberType::Mobile,
    NumberType::FixedLineOrMobile,
    NumberType::FixedLine,
];

impl FromEnv for Option<VoiceConfig> {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        if !env.flag("OTP_VOICE_ENABLED", false)? {
            return Ok(None);
        }
        // A call needs somewhere to fetch its words from, and a number to come from.
        if env.optional("OTP_PUBLIC_BASE_URL").is_none() {
            return Err(problem(
                "OTP_VOICE_ENABLED",
                "needs OTP_PUBLIC_BASE_URL, where Plivo fetches what a call says",
            ));
        }
        let caller_id = env.optional("PLIVO_VOICE_CALLER_ID");
        let sender_id = env.optional("PLIVO_SENDER_ID");
        if caller_id.is_none() && !sender_id.as_deref().is_some_and(is_phone_number) {
            return Err(problem(
                "OTP_VOICE_ENABLED",
                "needs a caller id: PLIVO_VOICE_CALLER_ID, or a PLIVO_SENDER_ID that is a number",
            ));
        }
        Ok(Some(VoiceConfig {
            allowed_number_types: env.number_types(
                "OTP_VOICE_ALLOWED_NUMBER_TYPES",
                &DEFAULT_VOICE_NUMBER_TYPES,
            )?,
            max_calls_per_hour: env.limit("OTP_MAX_CALLS_PER_HOUR", 30)?,
            max_calls_per_number_per_hour: env.limit("OTP_MAX_CALLS_PER_NUMBER_PER_HOUR", 2)?,
        }))
    }
}

/// What the Plivo callback function reads: the table, the auth token that signs Plivo's
/// requests, and the public URL they are signed over. `OTP_SECRET` only where it answers
/// calls: the deployment that records delivery reports never holds it.
#[derive(Debug)]
pub struct CallbackConfig {
    pub table_name: String,
    pub(crate) auth_token: SecretString,
    /// `OTP_PUBLIC_BASE_URL`, required here.
    pub(crate) public_base_url: String,
    pub init_warm_up: bool,
    /// The per-number limits the store is built with (no receipt write depends on them).
    pub limits: Limits,
    /// `OTP_SECRET`, only where calls are answered (the template's PlivoAnswerFunction): it
    /// opens the sealed answer tickets.
    pub(crate) secret: Option<SecretString>,
}

impl FromEnv for CallbackConfig {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            table_name: env.required("OTP_TABLE_NAME")?,
            auth_token: SecretString::from(env.required("PLIVO_AUTH_TOKEN")?),
            public_base_url: public_base_url(env.required("OTP_PUBLIC_BASE_URL")?.trim())?,
            init_warm_up: env.flag("OTP_INIT_WARMUP", true)?,
            limits: env.limits()?,
            secret: env.optional("OTP_SECRET").map(SecretString::from),
        })
    }
}

/// Settings for the signed proof of verification (`verify-otp` only): present when
/// `OTP_TOKEN_SIGNING_KEY` is set. The key itself is checked by `TokenIssuer::new`.
#[derive(Debug)]
pub struct TokenConfig {
    /// `OTP_TOKEN_SIGNING_KEY`: PEM, or base64 of the DER.
    pub(crate) signing_key: SecretString,
    /// `OTP_TOKEN_ISSUER`, the `iss` claim.
    pub(crate) issuer: String,
    /// `OTP_TOKEN_AUDIENCE`, the `aud` claim.
    pub(crate) audience: String,
    /// `OTP_TOKEN_TTL_SECONDS`: from `iat` to `exp`.
    pub(crate) ttl: u64,
    /// `OTP_TOKEN_PREVIOUS_PUBLIC_KEYS`, still published.
    pub(crate) previous_public_keys: Option<String>,
}

impl FromEnv for Option<TokenConfig> {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let Some(signing_key) = env.optional("OTP_TOKEN_SIGNING_KEY") else {
            // A token setting without the key is a deployment mistake: say so.
            for var in [
                "OTP_TOKEN_ISSUER",
                "OTP_TOKEN_AUDIENCE",
                "OTP_TOKEN_TTL_SECONDS",
                "OTP_TOKEN_PREVIOUS_PUBLIC_KEYS",
            ] {
                if env.optional(var).is_some() {
                    return Err(problem(var, "is set but OTP_TOKEN_SIGNING_KEY is not"));
                }
            }
            return Ok(None);
        };
        let issuer = env.required("OTP_TOKEN_ISSUER")?.trim().to_owned();
        check_url("OTP_TOKEN_ISSUER", &issuer)?;
        Ok(Some(TokenConfig {
            signing_key: SecretString::from(signing_key),
            issuer,
            audience: env.required("OTP_TOKEN_AUDIENCE")?.trim().to_owned(),
            ttl: env.number("OTP_TOKEN_TTL_SECONDS", 300u64, 30..=3600)?,
            previous_public_keys: env.optional("OTP_TOKEN_PREVIOUS_PUBLIC_KEYS"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

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
        let otp = |pairs: &[(&str, &str)]| messages_from_lookup(lookup(pairs), &otp(&[]).unwrap());
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
        let err =
            OtpConfig::from_lookup(lookup(&[("OTP_TABLE_NAME", "t"), ("OTP_SECRET", SECRET)]))
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
        let err = messages_from_lookup(lookup(&pairs), &otp(&[]).unwrap()).unwrap_err();
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
}
