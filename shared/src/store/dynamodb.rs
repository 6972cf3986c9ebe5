//! [`DynamoDbStore`]: the [`OtpStore`] on one DynamoDB table, and the plumbing its writes
//! share (conditional updates, reads, error classification).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::item::{Item, PARTITION_KEY, State, TTL_ATTRIBUTE};
use super::{Failure, Result, StoreError, dynamodb_client};
use crate::domain::{Limits, PhoneKey};
use crate::timing::{Dependency, timed};

/// An attribute name an expression uses through a placeholder, being a reserved word.
pub(super) type Name = (&'static str, &'static str);
pub(super) const TTL: Name = ("#ttl", TTL_ATTRIBUTE);
/// The attribute of counter items.
pub(super) const COUNT: Name = ("#count", "count");

/// One conditional `UpdateItem`: what it changes, on what condition, with which names and
/// values.
pub(super) struct Write<'a> {
    update: &'a str,
    condition: &'a str,
    names: &'static [Name],
    values: Vec<(&'static str, AttributeValue)>,
}

impl<'a> Write<'a> {
    pub(super) fn new(
        update: &'a str,
        condition: &'a str,
        names: &'static [Name],
        values: Vec<(&'static str, AttributeValue)>,
    ) -> Self {
        Self {
            update,
            condition,
            names,
            values,
        }
    }
}

/// What a conditional update returned.
pub(super) enum Conditional {
    /// The item as asked for (`ReturnValues`).
    Applied(Item),
    /// The condition failed; the item as it was, when the server returns it.
    Refused(Option<Item>),
}

/// The store on one DynamoDB table. Built once per execution environment.
pub struct DynamoDbStore {
    client: Client,
    table: String,
    pub(super) limits: Limits,
}

impl DynamoDbStore {
    pub fn new(client: Client, table: impl Into<String>, limits: Limits) -> Self {
        Self {
            client,
            table: table.into(),
            limits,
        }
    }

    /// The store a function uses: a client from the standard AWS configuration chain, on
    /// `table`, with the per-number `limits` (unused by a store that only records receipts),
    /// and the connection opened during init when `warm_up` (`OTP_INIT_WARMUP`) asks for it.
    pub async fn connect(table: &str, limits: Limits, warm_up: bool) -> anyhow::Result<Self> {
        let store = Self::new(dynamodb_client().await?, table, limits);
        if warm_up {
            store.warm_up().await;
        }
        Ok(store)
    }

    /// One eventually consistent `GetItem` of a key that never exists: it opens the connection
    /// (TLS included) while Lambda's init phase runs, instead of on the first request. A
    /// failure is logged, not fatal: the first request will try again and report properly.
    async fn warm_up(&self) {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S("warm-up".to_owned()))
            .projection_expression(PARTITION_KEY)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error.message = %DisplayErrorContext(&e), "dynamodb warm-up failed");
        }
    }

    fn request(&self, pk: &str, write: Write<'_>, returns: ReturnValue) -> UpdateItemFluentBuilder {
        let values = write
            .values
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(pk.to_owned()))
            .update_expression(write.update)
            .condition_expression(write.condition);
        for (placeholder, name) in write.names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        request
            .set_expression_attribute_values(Some(values))
            .return_values(returns)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    /// A conditional write, retried by the SDK as configured.
    pub(super) async fn update(
        &self,
        pk: &str,
        write: Write<'_>,
        returns: ReturnValue,
    ) -> Result<Conditional> {
        let request = self.request(pk, write, returns).send();
        conditional(timed(Dependency::DynamoDb, request).await)
    }

    /// A counter write: one attempt only, never retried by the SDK (a retry after a lost
    /// answer would count twice). Whether it was applied.
    pub(super) async fn update_once(&self, pk: &str, write: Write<'_>) -> Result<bool> {
        let once = aws_sdk_dynamodb::Config::builder().retry_config(RetryConfig::disabled());
        let result = self
            .request(pk, write, ReturnValue::None)
            .customize()
            .config_override(once)
            .send();
        let result = timed(Dependency::DynamoDb, result).await;
        Ok(matches!(conditional(result)?, Conditional::Applied(_)))
    }

    /// The item as it is now (strongly consistent), for servers that do not return the old
    /// item when a condition fails.
    pub(super) async fn read(&self, key: &PhoneKey, returned: Option<Item>) -> Result<State> {
        if let Some(item) = returned {
            return Ok(State::from_item(&item));
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.as_str().to_owned()))
            .consistent_read(true)
            .send();
        let out = timed(Dependency::DynamoDb, out)
            .await
            .map_err(store_error)?;
        Ok(out.item.as_ref().map(State::from_item).unwrap_or_default())
    }
}

fn conditional(
    result: std::result::Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<Conditional> {
    match result {
        Ok(out) => Ok(Conditional::Applied(out.attributes.unwrap_or_default())),
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
        {
            let UpdateItemError::ConditionalCheckFailedException(failed) = e.into_err() else {
                unreachable!("matched above")
            };
            Ok(Conditional::Refused(failed.item))
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Sorts an SDK error into what the caller can do about it, keeping it as the source.
fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let kind = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Unavailable
        }
        SdkError::ServiceError(e) => match e.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => Failure::Throttled,
            Some("InternalServerError" | "ServiceUnavailable") => Failure::Unavailable,
            _ => Failure::Failed,
        },
        _ => Failure::Failed,
    };
    StoreError::new(kind, Box::new(err))
}

#[cfg(test)]
mod tests {
    use otp_devtools::dynalite::{Dynalite, local_client};
    use otp_devtools::request_counter::RequestCounter;

    use super::*;
    use crate::config::FromEnv;

    /// The warm-up opens the connection during init with one read of a key that never
    /// exists, and writes nothing.
    #[tokio::test]
    async fn the_warm_up_is_one_read_of_a_key_that_never_exists() {
        let dynalite = Dynalite::start(0, None).unwrap();
        let client = local_client(&dynalite.endpoint());
        otp_devtools::table::create_table(&client, "warm")
            .await
            .unwrap();
        let requests = RequestCounter::default();
        let limits = crate::config::OtpConfig::from_lookup(|k| match k {
            "OTP_TABLE_NAME" => Some("warm".into()),
            "OTP_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
            "OTP_ALLOWED_COUNTRIES" => Some("*".into()),
            _ => None,
        })
        .unwrap()
        .limits;
        let store = DynamoDbStore::new(requests.attach(&client), "warm", limits);
        store.warm_up().await;
        assert_eq!(
            requests.by_operation().into_iter().collect::<Vec<_>>(),
            [("GetItem".to_owned(), 1)]
        );
        let items = client.scan().table_name("warm").send().await.unwrap();
        assert_eq!(items.count(), 0);
    }
}
