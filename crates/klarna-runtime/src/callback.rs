//! What the generated callback handlers share (feature `callbacks`): the
//! answer a handler gives, as status, `Location` and JSON body; the
//! redirect; and the decoding of a callback's request, whose errors name
//! the field that did not decode.
//!
//! A callback is a request the API makes to the caller's server (Klarna
//! Checkout POSTs the order to the merchant's `merchant_urls.validation`).
//! The generated code decodes it into the model the document names, calls
//! the caller's handler, and turns its typed answer into a [`Reply`]; a
//! serving layer (`klarna_checkout::serve`) writes that reply as HTTP.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How a redirect answer redirects. Klarna's callback documents list
/// 301, 302, 303 and 307; the buyer is sent to the `Location` either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedirectStatus {
    MovedPermanently,
    Found,
    SeeOther,
    TemporaryRedirect,
}

impl RedirectStatus {
    pub fn code(self) -> u16 {
        match self {
            RedirectStatus::MovedPermanently => 301,
            RedirectStatus::Found => 302,
            RedirectStatus::SeeOther => 303,
            RedirectStatus::TemporaryRedirect => 307,
        }
    }
}

/// A redirect answer: the API sends the buyer to `location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub status: RedirectStatus,
    pub location: String,
}

impl Redirect {
    /// A `303 See Other` to `location`, the usual choice.
    pub fn to(location: impl Into<String>) -> Redirect {
        Redirect {
            status: RedirectStatus::SeeOther,
            location: location.into(),
        }
    }
}

/// A handler's answer as HTTP sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// The `Location` of a redirect.
    pub location: Option<String>,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
}

impl Reply {
    /// A status with no body.
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            location: None,
            body: None,
        }
    }

    /// A status with `body` as JSON. A body that does not encode (a map
    /// with non-string keys, say; the generated models never are one)
    /// gives a 500, not a panic.
    pub fn json(status: u16, body: &impl Serialize) -> Reply {
        match serde_json::to_vec(body) {
            Ok(bytes) => Reply {
                status,
                location: None,
                body: Some(bytes),
            },
            Err(_) => Reply::empty(500),
        }
    }

    pub fn redirect(redirect: Redirect) -> Reply {
        Reply {
            status: redirect.status.code(),
            location: Some(redirect.location),
            body: None,
        }
    }

    /// What a server answers for a callback it does not serve: 404.
    pub fn not_served() -> Reply {
        Reply::empty(404)
    }
}

/// A callback request that did not decode: the answer is a 400 that names
/// the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Where in the request: a JSON path into the body (`order_lines[0].quantity`,
    /// `.` for the whole body) or `query order_id`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// The 400 reply: `{"error": "bad_request", "field": ..., "message": ...}`.
    pub fn reply(&self) -> Reply {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'static str,
            field: &'a str,
            message: &'a str,
        }
        Reply::json(
            400,
            &Body {
                error: "bad_request",
                field: &self.field,
                message: &self.message,
            },
        )
    }
}

/// Decodes a JSON request body; the error names the field that failed.
pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| DecodeError {
        field: e.path().to_string(),
        message: e.inner().to_string(),
    })?;
    deserializer.end().map_err(|e| DecodeError {
        field: ".".to_owned(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// The value of query parameter `name` (percent-decoded), required.
pub fn query_param(query: &str, name: &str) -> Result<String, DecodeError> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| percent_decode(key).as_deref() == Some(name))
        .and_then(|(_, value)| percent_decode(value))
        .filter(|value| !value.is_empty())
        .ok_or_else(|| DecodeError {
            field: format!("query {name}"),
            message: "missing or not valid UTF-8".to_owned(),
        })
}

/// `%XX` and `+` decoded; `None` for broken escapes or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'%' => {
                let high = (input.next()? as char).to_digit(16)?;
                let low = (input.next()? as char).to_digit(16)?;
                bytes.push((high * 16 + low) as u8);
            }
            b'+' => bytes.push(b' '),
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// A callback's documented deadline: how long the API waits for the
/// answer before it goes on without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub seconds: u64,
    /// A longer wait when the request says an answer is required.
    pub seconds_when_required: Option<u64>,
    /// The JSON pointer of the request's boolean that says so
    /// (`/options/require_validate_callback_success`).
    pub required_by: Option<&'static str>,
}

impl Deadline {
    /// Whether `body` sets the `required_by` flag (false when it does not
    /// decode or has no such flag).
    pub fn required(&self, body: &[u8]) -> bool {
        let Some(pointer) = self.required_by else {
            return false;
        };
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|value| value.pointer(pointer).and_then(|flag| flag.as_bool()))
            .unwrap_or(false)
    }

    /// The wait for `body`, in seconds.
    pub fn seconds_for(&self, body: &[u8]) -> u64 {
        match self.seconds_when_required {
            Some(longer) if self.required(body) => longer,
            _ => self.seconds,
        }
    }
}

/// One callback a generated module serves: its name (the last part of its
/// dotted name, `validation`) and what the document says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callback {
    /// `validation` for `merchant_urls.validation`: the route a serving
    /// layer mounts it at, under the caller's prefix.
    pub name: &'static str,
    /// The dotted name as the document writes it.
    pub property: &'static str,
    pub deadline: Option<Deadline>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Line {
        #[allow(dead_code)]
        quantity: i64,
    }
    #[derive(serde::Deserialize, Debug)]
    struct Cart {
        #[allow(dead_code)]
        order_lines: Vec<Line>,
    }

    #[test]
    fn a_body_that_does_not_decode_names_the_field() {
        let error = decode_json::<Cart>(br#"{"order_lines":[{"quantity":"ten"}]}"#).unwrap_err();
        assert_eq!(error.field, "order_lines[0].quantity");
        let reply = error.reply();
        assert_eq!(reply.status, 400);
        let body: serde_json::Value = serde_json::from_slice(&reply.body.unwrap()).unwrap();
        assert_eq!(body["field"], "order_lines[0].quantity");
        let missing = decode_json::<Cart>(b"{}").unwrap_err();
        assert!(missing.message.contains("order_lines"), "{missing}");
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            query_param("a=1&order_id=x%2Fy", "order_id").unwrap(),
            "x/y"
        );
        assert_eq!(
            query_param("order_id", "order_id").unwrap_err().field,
            "query order_id"
        );
        assert!(query_param("order_id=%G1", "order_id").is_err());
    }

    #[test]
    fn the_deadline_follows_the_flag() {
        let deadline = Deadline {
            seconds: 3,
            seconds_when_required: Some(10),
            required_by: Some("/options/require_validate_callback_success"),
        };
        assert_eq!(deadline.seconds_for(b"{}"), 3);
        assert_eq!(
            deadline.seconds_for(br#"{"options":{"require_validate_callback_success":true}}"#),
            10
        );
        assert_eq!(deadline.seconds_for(b"not json"), 3);
    }
}
