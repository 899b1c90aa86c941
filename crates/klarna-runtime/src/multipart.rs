//! [`Multipart`]: a `multipart/form-data` request body.

use std::fmt;

/// The parts of a `multipart/form-data` body (RFC 7578): text fields and
/// files, in order. Operations of a document of others whose request body
/// is `multipart/form-data` take one (`cargo xtask generate`).
///
/// ```
/// use klarna_runtime::Multipart;
///
/// let body = Multipart::new()
///     .text("name", "Rex")
///     .file("photo", "rex.png", "image/png", vec![0x89, b'P', b'N', b'G']);
/// ```
///
/// The body is built in memory, so a call that is safe to repeat sends the
/// same bytes again. `Debug` shows part names and sizes, not contents.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Multipart {
    parts: Vec<Part>,
}

#[derive(Clone, PartialEq, Eq)]
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Multipart {
    pub fn new() -> Self {
        Multipart::default()
    }

    /// A text field.
    pub fn text(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file_name: None,
            content_type: None,
            body: value.into().into_bytes(),
        });
        self
    }

    /// A file: its field name, file name, media type and contents.
    pub fn file(
        mut self,
        name: impl Into<String>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
        contents: impl Into<Vec<u8>>,
    ) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file_name: Some(file_name.into()),
            content_type: Some(content_type.into()),
            body: contents.into(),
        });
        self
    }

    /// The body and its `Content-Type` (with the boundary), or why it
    /// cannot be sent.
    pub(crate) fn encode(&self, boundary: &str) -> Result<(Vec<u8>, String), String> {
        let mut body = Vec::new();
        for part in &self.parts {
            // A name or type that would break the part's headers is
            // refused, not sent in some other shape.
            let clean = |text: &str, what: &str| {
                if text.chars().any(|c| c.is_control()) {
                    Err(format!("a multipart {what} holds a control character"))
                } else {
                    Ok(text.replace('"', "%22"))
                }
            };
            if part
                .body
                .windows(boundary.len())
                .any(|w| w == boundary.as_bytes())
            {
                return Err("a multipart part contains the boundary".to_owned());
            }
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!(
                "Content-Disposition: form-data; name=\"{}\"",
                clean(&part.name, "field name")?
            );
            if let Some(file_name) = &part.file_name {
                disposition.push_str(&format!(
                    "; filename=\"{}\"",
                    clean(file_name, "file name")?
                ));
            }
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            if let Some(content_type) = &part.content_type {
                let content_type = clean(content_type, "media type")?;
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.body);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Ok((body, format!("multipart/form-data; boundary={boundary}")))
    }
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.parts.iter().map(|part| {
                format!(
                    "{}{} ({} bytes)",
                    part.name,
                    part.file_name
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default(),
                    part.body.len()
                )
            }))
            .finish()
    }
}
