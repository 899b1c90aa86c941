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
//! - `sub:<subject>` refuses every token of that subject (its `sub`), and
//!   with them the subject's MCP sessions; `client:<client id>` the same
//!   for tokens that name only a `client_id`;
//! - `jti:<token id>` refuses the one token with that `jti`;
//! - `token:<digest>` refuses a token by the digest the journal names it
//!   by (`oauth:token:<digest>`), for a token with neither subject nor id;
//! - `session:<id>` ends one MCP session: its client gets `404` and starts
//!   a new one, which the caller's tokens still allow.
//!
//! A refused token gets `401` with `error="invalid_token"` and "the token
//! has been revoked". The file is read at start, where a line it cannot
//! read stops the gateway, and again at most once a second, its whole text
//! compared with the last; a file broken while the gateway runs leaves the
//! last list it read in force, with a warning in the log, so a typo never
//! reopens what was closed. Write it by renaming a finished file into
//! place: a file caught half-written could read as a shorter list for up
//! to a second (a list that empties is logged as a warning).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The environment variable of `--oauth-revoked`.
pub const REVOKED_VAR: &str = "KLARNA_GATEWAY_OAUTH_REVOKED";

/// How often, at most, the file is checked for a change.
const RECHECK: Duration = Duration::from_secs(1);

/// What the file revokes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Session owners (`sub:<subject>`, `client:<id>`), as
    /// `oauth::Access` names them.
    owners: HashSet<String>,
    tokens: HashSet<String>,
    digests: HashSet<String>,
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
                    "line {}: `{line}` is not `sub:<subject>`, `client:<id>`, `jti:<token id>`, \
                     `token:<digest>` or `session:<id>`",
                    n + 1
                ));
            }
            // A comment after the value would silently become part of it
            // (and revoke nothing): refused instead.
            if value.contains(|c: char| c.is_whitespace() || c == '#') {
                return Err(format!(
                    "line {}: `{value}` has a space or `#` in it; put a comment on a line of \
                     its own",
                    n + 1
                ));
            }
            match kind {
                "sub" | "client" => revoked.owners.insert(format!("{kind}:{value}")),
                "jti" => revoked.tokens.insert(value.to_owned()),
                "token" => revoked.digests.insert(value.to_owned()),
                "session" => revoked.sessions.insert(value.to_owned()),
                other => {
                    return Err(format!(
                        "line {}: `{other}:` is none of `sub:`, `client:`, `jti:`, `token:`, \
                         `session:`",
                        n + 1
                    ))
                }
            };
        }
        Ok(revoked)
    }

    /// Whether a token is revoked: by its owner (`sub:<subject>`,
    /// `client:<id>` or `token:<digest>`, as `oauth::Access` names it) or
    /// its `jti`.
    pub fn token(&self, owner: &str, jti: Option<&str>) -> bool {
        self.owners.contains(owner)
            || owner
                .strip_prefix("token:")
                .is_some_and(|digest| self.digests.contains(digest))
            || jti.is_some_and(|j| self.tokens.contains(j))
    }

    /// Whether the MCP session `id` is ended.
    pub fn session(&self, id: &str) -> bool {
        self.sessions.contains(id)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.owners.len() + self.tokens.len() + self.digests.len() + self.sessions.len()
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
    /// What the last read of the file gave: its text (whether or not it
    /// parsed), or why it could not be read. Only a change is acted on, so
    /// a broken file is one warning, not one a second.
    seen: Result<String, String>,
    checked: Instant,
}

impl Revocations {
    /// Reads the file at `path`: an error naming it and the line when it
    /// cannot be read (a gateway does not start on a list it cannot read).
    pub fn load(path: impl AsRef<Path>) -> Result<Revocations, String> {
        let path = path.as_ref().to_owned();
        let text = read(&path)?;
        let revoked = parse(&path, &text)?;
        Ok(Revocations {
            path,
            recheck: RECHECK,
            state: Mutex::new(State {
                revoked: Arc::new(revoked),
                seen: Ok(text),
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
        // The whole text, compared: a change within one tick of the file's
        // modification time, or to a line of the same length, still counts.
        let seen = read(&self.path);
        if seen == state.seen {
            return state.revoked.clone();
        }
        state.seen = seen.clone();
        match seen.and_then(|text| parse(&self.path, &text)) {
            Ok(revoked) => {
                if revoked.is_empty() && !state.revoked.is_empty() {
                    tracing::warn!(
                        path = %self.path.display(),
                        "OAuth revocation list is now empty: every revoked token is let in again"
                    );
                } else {
                    tracing::info!(
                        path = %self.path.display(),
                        entries = revoked.len(),
                        "OAuth revocation list read again"
                    );
                }
                state.revoked = Arc::new(revoked);
            }
            Err(message) => {
                tracing::warn!(
                    path = %self.path.display(),
                    "OAuth revocation list kept as it was: {message}"
                );
            }
        }
        state.revoked.clone()
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("the revocation file {}: {e}", path.display()))
}

fn parse(path: &Path, text: &str) -> Result<Revoked, String> {
    Revoked::parse(text).map_err(|e| format!("the revocation file {}, {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_comments_and_blank_lines() {
        let text = "# leaked\n\njti: t-1 \nsub:agent-9\n  session:s-1\nsub:with:colon\n\
                    client:ci-7\ntoken:00ff\n";
        let revoked = Revoked::parse(text).unwrap();
        assert!(revoked.token("token:abcd", Some("t-1")));
        assert!(revoked.token("sub:agent-9", Some("t-2")));
        assert!(revoked.token("sub:with:colon", None));
        assert!(revoked.token("client:ci-7", None));
        assert!(revoked.token("token:00ff", None));
        // A client id is not a subject, nor the other way round.
        assert!(!revoked.token("client:agent-9", None));
        assert!(!revoked.token("sub:ci-7", None));
        assert!(!revoked.token("sub:agent-1", Some("t-2")));
        assert!(revoked.session("s-1"));
        assert!(!revoked.session("s-2"));
        assert_eq!(revoked.len(), 6);
    }

    #[test]
    fn a_line_it_cannot_read_is_named() {
        for (text, said) in [
            ("sub:a\nagent-9\n", "line 2: `agent-9` is not"),
            ("jti:\n", "line 1: `jti:` is not"),
            ("user:bob\n", "line 1: `user:` is none of"),
            ("jti:abc # leaked\n", "line 1: `abc # leaked` has a space"),
        ] {
            let error = Revoked::parse(text).unwrap_err();
            assert!(error.starts_with(said), "{error}");
        }
    }
}
