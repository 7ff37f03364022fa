//! A small client for the REST API, used by the CLI's client commands.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cli::ClientArgs;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach watchbill at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("{}", match field { Some(field) => format!("{field}: {message}"), None => message.clone() })]
    Api {
        status: StatusCode,
        code: String,
        message: String,
        field: Option<String>,
    },
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
    #[error("no API token: pass --token or set WATCHBILL_TOKEN")]
    NoToken,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
    field: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(args: &ClientArgs) -> Result<Client, ClientError> {
        let token = args
            .token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or(ClientError::NoToken)?;
        Ok(Client {
            http: reqwest::Client::new(),
            base: args.url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        self.send::<(), T>(Method::GET, path, query, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::POST, path, query, Some(body)).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::PATCH, path, &[], Some(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::PUT, path, &[], Some(body)).await
    }

    /// A `GET` whose answer is text (such as a Markdown export), not JSON.
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let bytes = self.send_raw::<()>(Method::GET, path, &[], None).await?;
        String::from_utf8(bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let bytes = self.send_raw(method, path, query, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Sends a request; a success's body as it came, a failure as the API's error.
    async fn send_raw<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: self.base.clone(),
                source,
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => ClientError::Api {
                    status,
                    code: body.code,
                    message: body.message,
                    field: body.field,
                },
                Err(_) => ClientError::Api {
                    status,
                    code: "http".to_owned(),
                    message: format!("the server answered {status}"),
                    field: None,
                },
            });
        }
        Ok(bytes.to_vec())
    }
}
