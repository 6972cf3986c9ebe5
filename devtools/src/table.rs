//! The DynamoDB table as `template.yaml` defines it: the one source of truth for tests and the
//! local stack.

use anyhow::{Context, bail};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde_norway::Value;

use crate::repo_root;

/// The `Properties` of the template's single `AWS::DynamoDB::Table` resource.
pub fn template_table() -> anyhow::Result<Value> {
    let path = repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let doc: Value = serde_norway::from_str(&text).context("parse template.yaml")?;
    let resources = doc["Resources"]
        .as_mapping()
        .context("template.yaml has no Resources")?;
    let tables: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::DynamoDB::Table"))
        .collect();
    match tables.as_slice() {
        [table] => Ok(table["Properties"].clone()),
        _ => bail!("template.yaml should declare exactly one AWS::DynamoDB::Table"),
    }
}

fn text<'a>(value: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    value[field]
        .as_str()
        .with_context(|| format!("table definition lacks {field}"))
}

/// Creates `name` with the template's key schema and billing mode. The TTL setting cannot be
/// applied on servers without `UpdateTimeToLive` (dynalite); the store enforces expiry itself.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> anyhow::Result<()> {
    let props = template_table()?;
    let mut create = client.create_table().table_name(name);
    for def in props["AttributeDefinitions"]
        .as_sequence()
        .context("AttributeDefinitions")?
    {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(def, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(def, "AttributeType")?))
                .build()?,
        );
    }
    for key in props["KeySchema"].as_sequence().context("KeySchema")? {
        create = create.key_schema(
            KeySchemaElement::builder()
                .attribute_name(text(key, "AttributeName")?)
                .key_type(KeyType::from(text(key, "KeyType")?))
                .build()?,
        );
    }
    let billing = props["BillingMode"].as_str().unwrap_or("PROVISIONED");
    create = create.billing_mode(BillingMode::from(billing));
    create.send().await.context("create table")?;
    Ok(())
}

/// Creates `name` unless it exists already.
pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, name: &str) -> anyhow::Result<bool> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(false),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            create_table(client, name).await?;
            Ok(true)
        }
        Err(e) => Err(anyhow::Error::new(e).context("describe table")),
    }
}
