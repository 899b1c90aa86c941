//! Ending OAuth access before tokens expire: a revocation file.
//!
//! The gateway asks the issuer nothing per request (no token
//! introspection), so a token stays good until it expires. An operator who
//! must end access sooner lists it in a file (in a container: a mounted
//! config map or secret), one entry a line:
//!
//! ```text
//! # a leaked agent token, and everything the old CI client holds
//! jti:4f0c2a9e-1b7d-4c1e-9d55-0e8f2b6a7c31
//! sub:ci-runner-legacy
//! session:2b8e3c4d-5f60-4a71-8b92-a3b4c5d6e7f8
//! ```
//!
//! - `sub:<subject>` refuses every token of that subject (its `sub`, else
//!   its `client_id`), and with them the subject's MCP sessions;
//! - `jti:<token id>` refuses the one token with that `jti`;
//! - `session:<id>` ends one MCP session: its client gets `404` and starts
//!   a new one, which the caller's tokens still allow.
//!
//! A refused token gets `401` with `error="invalid_token"` and "the token
//! has been revoked". The file is read at start, where a line it cannot
//! read stops the gateway, and again whenever it changes, checked at most
//! once a second; a file broken while the gateway runs leaves the last list
//! it read in force, with a warning in the log, so a typo never reopens
//! what was closed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The environment variable of `--oauth-revoked`.
pub const REVOKED_VAR: &str = "KLARNA_GATEWAY_OAUTH_REVOKED";

/// How often, at most, the file is checked for a change.
const RECHECK: Duration = Duration::from_secs(1);

/// What the file revokes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    subjects: HashSet<String>,
    tokens: HashSet<String>,
    sessions: HashSet<String>,
}

impl Revoked {
    /// The entries of a revocation file's text; a line it cannot read is
    /// an error naming it.
    pub fn parse(text: &str) -> Result<Revoked, String> {
        let mut revoked = Revoked::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (kind, value) = line
                .split_once(':')
                .map(|(kind, value)| (kind.trim(), value.trim()))
                .unwrap_or((line, ""));
            if value.is_empty() {
                return Err(format!(
                    "line {}: `{line}` is not `sub:<subject>`, `jti:<token id>` or \
                     `session:<id>`",
                    n + 1
                ));
            }
            let set = match kind {
                "sub" => &mut revoked.subjects,
                "jti" => &mut revoked.tokens,
                "session" => &mut revoked.sessions,
                other => {
                    return Err(format!(
                        "line {}: `{other}:` is none of `sub:`, `jti:`, `session:`",
                        n + 1
                    ))
                }
            };
            set.insert(value.to_owned());
        }
        Ok(revoked)
    }

    /// Whether a token with this subject and `jti` is revoked.
    pub fn token(&self, subject: Option<&str>, jti: Option<&str>) -> bool {
        subject.is_some_and(|s| self.subjects.contains(s))
            || jti.is_some_and(|j| self.tokens.contains(j))
    }

    /// Whether the MCP session `id` is ended.
    pub fn session(&self, id: &str) -> bool {
        self.sessions.contains(id)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.subjects.len() + self.tokens.len() + self.sessions.len()
    }

    /// Whether it revokes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A revocation file and the list last read from it. Shared by both
/// adapters.
#[derive(Debug)]
pub struct Revocations {
    path: PathBuf,
    recheck: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    revoked: Arc<Revoked>,
    /// The file's modification time and length when it was read: a change
    /// of either is a new list.
    version: Option<(SystemTime, u64)>,
    checked: Instant,
}

impl Revocations {
    /// Reads the file at `path`: an error naming it and the line when it
    /// cannot be read (a gateway does not start on a list it cannot read).
    pub fn load(path: impl AsRef<Path>) -> Result<Revocations, String> {
        let path = path.as_ref().to_owned();
        let (revoked, version) = read(&path)?;
        Ok(Revocations {
            path,
            recheck: RECHECK,
            state: Mutex::new(State {
                revoked: Arc::new(revoked),
                version,
                checked: Instant::now(),
            }),
        })
    }

    /// The same file, checked for changes at most every `recheck` (tests
    /// use zero).
    pub fn rechecked_every(mut self, recheck: Duration) -> Revocations {
        self.recheck = recheck;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The list in force: read again first if the file changed since, and
    /// the last check is `recheck` ago. A file that cannot be read now
    /// keeps the last list.
    pub fn current(&self) -> Arc<Revoked> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() < self.recheck {
            return state.revoked.clone();
        }
        state.checked = Instant::now();
        if version(&self.path) != state.version {
            match read(&self.path) {
                Ok((revoked, version)) => {
                    if revoked != *state.revoked {
                        tracing::info!(
                            path = %self.path.display(),
                            entries = revoked.len(),
                            "OAuth revocation list read again"
                        );
                    }
                    state.revoked = Arc::new(revoked);
                    state.version = version;
                }
                Err(message) => {
                    // Remembered, so that one broken file is one warning.
                    state.version = version(&self.path);
                    tracing::warn!(
                        path = %self.path.display(),
                        "OAuth revocation list kept as it was: {message}"
                    );
                }
            }
        }
        state.revoked.clone()
    }
}

fn version(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

fn read(path: &Path) -> Result<(Revoked, Option<(SystemTime, u64)>), String> {
    let version = version(path);
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the revocation file {}: {e}", path.display()))?;
    let revoked = Revoked::parse(&text)
        .map_err(|e| format!("the revocation file {}, {e}", path.display()))?;
    Ok((revoked, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_comments_and_blank_lines() {
        let revoked =
            Revoked::parse("# leaked\n\njti: t-1 \nsub:agent-9\n  session:s-1\nsub:with:colon\n")
                .unwrap();
        assert!(revoked.token(None, Some("t-1")));
        assert!(revoked.token(Some("agent-9"), Some("t-2")));
        assert!(revoked.token(Some("with:colon"), None));
        assert!(!revoked.token(Some("agent-1"), Some("t-2")));
        assert!(!revoked.token(None, None));
        assert!(revoked.session("s-1"));
        assert!(!revoked.session("s-2"));
        assert_eq!(revoked.len(), 4);
    }

    #[test]
    fn a_line_it_cannot_read_is_named() {
        for (text, said) in [
            ("sub:a\nagent-9\n", "line 2: `agent-9` is not"),
            ("jti:\n", "line 1: `jti:` is not"),
            ("user:bob\n", "line 1: `user:` is none of"),
        ] {
            let error = Revoked::parse(text).unwrap_err();
            assert!(error.starts_with(said), "{error}");
        }
    }
}
