//! The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for the local
//! functions, so `cargo lambda invoke NAME --data-file events/...` reaches them as it reaches
//! `cargo lambda watch`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::runtime_api::{Outcome, RuntimeApi};

type Functions = Arc<Vec<(String, RuntimeApi)>>;

async fn invoke(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    payload: Bytes,
) -> Response {
    let Some((_, runtime)) = functions.iter().find(|(n, _)| *n == name) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"Type": "User", "Message": format!("Function not found: {name}")})),
        )
            .into_response();
    };
    let Ok(event) = serde_json::from_slice::<Value>(&payload) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"Type": "User", "Message": "Could not parse request body into json"}),
            ),
        )
            .into_response();
    };
    match runtime.invoke(event).await {
        Ok(Outcome::Response(body)) => (StatusCode::OK, body).into_response(),
        Ok(Outcome::Error(error)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(error)).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"errorType": "Runtime.Unavailable", "errorMessage": e.to_string()})),
        )
            .into_response(),
    }
}

/// Serves the Invoke API for `functions` on each of `addrs`; returns the bound addresses.
pub async fn serve(
    addrs: &[SocketAddr],
    functions: Vec<(String, RuntimeApi)>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(Arc::new(functions));
    let mut bound = Vec::new();
    for addr in addrs {
        let listener = TcpListener::bind(addr).await?;
        bound.push(listener.local_addr()?);
        let app = app.clone();
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    Ok(bound)
}
