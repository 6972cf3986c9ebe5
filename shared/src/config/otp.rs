//! The settings send-otp and verify-otp share: the table, the secret that keys every hash,
//! the code's shape, the per-number limits and the defences beyond one number.

use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::env::{Env, FromEnv, list_items, problem};
use crate::domain::{CodeLength, Defences, Limits, MAX_RETENTION, NumberType, Region};

const MIN_SECRET_BYTES: usize = 32;

/// Settings send-otp and verify-otp share.
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

/// What a send may reach by default: numbers that take an SMS.
pub(super) const DEFAULT_ALLOWED_NUMBER_TYPES: [NumberType; 2] =
    [NumberType::Mobile, NumberType::FixedLineOrMobile];

/// The regions libphonenumber has numbering plans for: what `OTP_ALLOWED_COUNTRIES` may name.
/// Checked against the library in a test; kept here so reading the configuration does not
/// load the phone metadata on the path of a cold start.
pub(super) const PHONE_REGIONS: &str = "AC,AD,AE,AF,AG,AI,AL,AM,AO,AR,AS,AT,AU,AW,AX,AZ,BA,BB,BD,BE,BF,BG,\
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
    /// `OTP_DIGITS`.
    pub(crate) fn code_length(&self) -> Result<CodeLength, ConfigError> {
        let digits = self.number("OTP_DIGITS", 6u8, CodeLength::MIN..=CodeLength::MAX)?;
        Ok(CodeLength::new(digits).expect("range checked above"))
    }

    /// `OTP_EXPIRY_SECONDS`: how long a code stays valid.
    pub(crate) fn code_ttl(&self) -> Result<u64, ConfigError> {
        self.number("OTP_EXPIRY_SECONDS", 300u64, 60..=900)
    }

    /// The per-number limits.
    pub(crate) fn limits(&self) -> Result<Limits, ConfigError> {
        Ok(Limits {
            code_ttl: self.code_ttl()?,
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
            verification_retention: self.number(
                "OTP_VERIFICATION_RETENTION_SECONDS",
                86_400u64,
                3_600..=MAX_RETENTION,
            )?,
        })
    }

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
            require_verification_id: self.flag("OTP_REQUIRE_VERIFICATION_ID", false)?,
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
    fn allowed_number_types(&self) -> Result<Vec<NumberType>, ConfigError> {
        self.number_types("OTP_ALLOWED_NUMBER_TYPES", &DEFAULT_ALLOWED_NUMBER_TYPES)
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
        let code_length = env.code_length()?;
        let limits = env.limits()?;
        let defences = env.defences()?;
        let init_warm_up = env.flag("OTP_INIT_WARMUP", true)?;
        let public_base_url = env.public_base_url()?;
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
