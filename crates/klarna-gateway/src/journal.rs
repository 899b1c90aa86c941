//! The journal of money calls: every call of a tool that is not read-only
//! is written to an SQLite file before it is sent and completed with its
//! outcome after, so that a crash or a restart loses no call, and the
//! same key is never acted on twice by the gateway.
//!
//! - **Durable before acknowledged.** WAL with `synchronous=FULL`: a
//!   record is on disk before the call is sent, and its outcome before
//!   the caller gets the answer.
//! - **Off the async runtime.** One thread owns the connection; calls send
//!   it jobs and await the reply. The thread commits every job waiting at
//!   once in one transaction (one fsync for many callers under load).
//! - **One owner.** The file is opened with SQLite's exclusive locking
//!   mode and locked at once: a second gateway (or `journal pending`)
//!   on the same file is refused with an error naming it. A file that is
//!   not a journal, or is corrupt, is refused and never written.
//! - **Bounded.** Final records older than the retention (48 h by default,
//!   covering Klarna's 24 h key window) are deleted as new ones are
//!   written, and their pages reused (and handed back to the system a
//!   little at a time); the WAL is checkpointed every 1000 pages and cut
//!   back to 8 MiB. Records still pending are kept until resolved.
//! - **The memory of keys.** [`Journal::admit`] answers a call whose key
//!   it has seen: the recorded answer for the same arguments after a final
//!   outcome, a conflict for other arguments or a call still in flight.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

pub use crate::ledger::{
    fingerprint, Admission, CallRecord, FinalOutcome, Outcome, Ticket, REDACTED,
};
use crate::ledger::{Ledger, LedgerError, LedgerFuture};
use crate::table::Tool;

/// How long final records are kept unless told otherwise: twice Klarna's
/// 24 h idempotency key window, so a key Klarna still remembers is always
/// remembered here too, clock skew included.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(48 * 60 * 60);

/// Klarna's idempotency key window: past it, sending a key again may act
/// again, so `resolve` leaves older calls to a person.
pub const KLARNA_KEY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Marks the file as ours (`PRAGMA application_id`): "KGWJ".
const APPLICATION_ID: i32 = 0x4b47_574a;
/// The schema's version (`PRAGMA user_version`).
const SCHEMA_VERSION: i32 = 1;
/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// How often, at most, old records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// Milliseconds since the Unix epoch; a test may give its own clock.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn system_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How a journal keeps its records.
#[derive(Clone)]
pub struct JournalOptions {
    /// How long a final record is kept, counted from when it ended.
    pub retention: Duration,
    pub clock: Clock,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            retention: DEFAULT_RETENTION,
            clock: Arc::new(system_clock),
        }
    }
}

/// Where the journal is kept unless `--journal` says otherwise:
/// `$XDG_STATE_HOME/klarna-gateway/journal.sqlite`, else
/// `$HOME/.local/state/klarna-gateway/journal.sqlite`, else
/// `klarna-gateway-journal.sqlite` in the working directory.
pub fn default_path() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let state = var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".local/state")));
    match state {
        Some(dir) => dir.join("klarna-gateway").join("journal.sqlite"),
        None => PathBuf::from("klarna-gateway-journal.sqlite"),
    }
}

/// Why the journal could not be opened or written. Each names the file.
#[derive(Debug)]
pub enum JournalError {
    /// Another process holds the file (a gateway running on it).
    Locked { path: PathBuf },
    /// The file is not a journal of this gateway, or is damaged; it was
    /// left as it is.
    Unusable { path: PathBuf, detail: String },
    /// SQLite failed (a full disk, say).
    Sqlite { path: PathBuf, detail: String },
    /// The journal was closed.
    Closed,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Locked { path } => write!(
                f,
                "the journal {} is locked by another process (a gateway running on it?); \
                 stop that one or give another file with --journal",
                path.display()
            ),
            JournalError::Unusable { path, detail } => write!(
                f,
                "the journal {} cannot be used: {detail}; it was left as it is (move it \
                 away to start a new journal, or give another file with --journal)",
                path.display()
            ),
            JournalError::Sqlite { path, detail } => {
                write!(f, "the journal {}: {detail}", path.display())
            }
            JournalError::Closed => f.write_str("the journal is closed"),
        }
    }
}

impl std::error::Error for JournalError {}

/// The state of a recorded call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Sent (or about to be) and not completed: in flight in this
    /// process, or cut off by a crash or a stop past the grace.
    InFlight,
    Done,
    Refused,
    Unknown,
    NotSent,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::InFlight => "in_flight",
            State::Done => "done",
            State::Refused => "refused",
            State::Unknown => "unknown",
            State::NotSent => "not_sent",
        }
    }

    fn parse(text: &str) -> State {
        match text {
            "done" => State::Done,
            "refused" => State::Refused,
            "unknown" => State::Unknown,
            "not_sent" => State::NotSent,
            _ => State::InFlight,
        }
    }

    /// Without a final outcome: `journal pending` lists these.
    pub fn is_pending(self) -> bool {
        matches!(self, State::InFlight | State::Unknown)
    }
}

impl From<Outcome> for State {
    fn from(outcome: Outcome) -> State {
        match outcome {
            Outcome::Done => State::Done,
            Outcome::Refused => State::Refused,
            Outcome::Unknown => State::Unknown,
            Outcome::NotSent => State::NotSent,
        }
    }
}

/// One recorded call, as `journal pending` and `GET /v1/calls/{key}` show
/// it.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub idempotency_key: String,
    pub operation: String,
    pub state: State,
    /// When the call was first recorded, in ms since the Unix epoch.
    pub started_at_ms: i64,
    /// When its last attempt ended.
    pub finished_at_ms: Option<i64>,
    /// How many times it was sent (resent with its key after an unknown
    /// outcome, or by `journal resolve`).
    pub attempts: u32,
    pub caller: String,
    pub fingerprint: String,
    pub arguments: Value,
    pub status: Option<u16>,
    pub ids: BTreeMap<String, String>,
    pub correlation_id: Option<String>,
    /// The answer's body, as JSON.
    pub body: Option<Value>,
}

/// The file's size and what it holds, for the bound on its size.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stats {
    pub records: u64,
    pub pending: u64,
    /// Pages in use and free, times the page size: the main file's size.
    pub file_bytes: u64,
    pub free_bytes: u64,
}

/// The journal: cheap to clone; every clone talks to the one thread that
/// owns the file.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pending_at_open: u64,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.inner.path)
            .finish()
    }
}

type Reply<T> = oneshot::Sender<Result<T, JournalError>>;

/// An admission whose answer its caller has not taken yet. Dropped with
/// the answer still out, it hands the answer to a task that ends an
/// admitted call as not sent; outside a runtime it drops the answer, and
/// the writer, finding nobody to answer, does the same.
struct Unclaimed {
    journal: Journal,
    answer: Option<oneshot::Receiver<Result<Admission, JournalError>>>,
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        let Some(answer) = self.answer.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let journal = self.journal.clone();
            runtime.spawn(async move {
                if let Ok(Ok(Admission::Proceed(ticket))) = answer.await {
                    let _ = journal.finish(ticket, FinalOutcome::not_sent()).await;
                }
            });
        }
    }
}

enum Job {
    Admit(CallRecord, Reply<Admission>),
    Finish(Ticket, FinalOutcome, Reply<()>),
    Lookup(String, Reply<Option<Entry>>),
    Pending(Reply<Vec<Entry>>),
    Stats(Reply<Stats>),
    /// Prunes now, whatever the time since the last prune.
    Prune(Reply<u64>),
}

impl Journal {
    /// Opens (or creates) the journal at `path` and locks it. Refuses a
    /// file another process holds, and one that is not a journal or is
    /// damaged, without writing to it. Blocking: call it before serving,
    /// or from `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>, options: JournalOptions) -> Result<Journal, JournalError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| JournalError::Sqlite {
                path: path.clone(),
                detail: format!("cannot create its directory: {e}"),
            })?;
        }
        let connection = open_connection(&path)?;
        let writer = Writer {
            connection,
            path: path.clone(),
            options,
            live: HashSet::new(),
            last_prune: i64::MIN,
        };
        let pending_at_open = writer.count_pending().map_err(|e| writer.error(e))?;
        let (jobs, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("klarna-gateway-journal".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| JournalError::Sqlite {
                path: path.clone(),
                detail: format!("cannot start its thread: {e}"),
            })?;
        Ok(Journal {
            inner: Arc::new(Inner {
                path,
                jobs: Mutex::new(Some(jobs)),
                thread: Mutex::new(Some(thread)),
                pending_at_open,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many calls had no final outcome when the journal was opened.
    pub fn pending_at_open(&self) -> u64 {
        self.inner.pending_at_open
    }

    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, JournalError> {
        self.send(job)?.await.map_err(|_| JournalError::Closed)?
    }

    /// Hands `job` to the writer: the receiver of its answer.
    fn send<T>(
        &self,
        job: impl FnOnce(Reply<T>) -> Job,
    ) -> Result<oneshot::Receiver<Result<T, JournalError>>, JournalError> {
        let (reply, answer) = oneshot::channel();
        let jobs = self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let jobs = jobs.as_ref().ok_or(JournalError::Closed)?;
        jobs.send(job(reply)).map_err(|_| JournalError::Closed)?;
        Ok(answer)
    }

    /// Records a call before it is sent, or says why it must not be sent.
    /// `Proceed` is durable when it returns. A caller that goes away before
    /// the answer (a dropped request) sent nothing: its call, if admitted,
    /// is then ended as not sent, so that its key is not left in flight.
    pub async fn admit(&self, record: CallRecord) -> Result<Admission, JournalError> {
        let answer = self.send(|reply| Job::Admit(record, reply))?;
        let mut waiting = Unclaimed {
            journal: self.clone(),
            answer: Some(answer),
        };
        let result = match waiting.answer.as_mut() {
            Some(answer) => answer.await,
            None => return Err(JournalError::Closed),
        };
        waiting.answer = None;
        result.map_err(|_| JournalError::Closed)?
    }

    /// Completes an admitted call with its outcome; durable when it
    /// returns.
    pub async fn finish(&self, ticket: Ticket, outcome: FinalOutcome) -> Result<(), JournalError> {
        self.ask(|reply| Job::Finish(ticket, outcome, reply)).await
    }

    /// The call recorded under `key`.
    pub async fn lookup(&self, key: &str) -> Result<Option<Entry>, JournalError> {
        self.ask(|reply| Job::Lookup(key.to_owned(), reply)).await
    }

    /// The calls without a final outcome that are not in flight in this
    /// process: sent and never answered, or cut off by a crash; oldest
    /// first.
    pub async fn pending(&self) -> Result<Vec<Entry>, JournalError> {
        self.ask(Job::Pending).await
    }

    pub async fn stats(&self) -> Result<Stats, JournalError> {
        self.ask(Job::Stats).await
    }

    /// Deletes the final records past the retention now; returns how many.
    pub async fn prune(&self) -> Result<u64, JournalError> {
        self.ask(Job::Prune).await
    }

    /// Finishes the jobs sent so far, checkpoints the WAL into the file,
    /// and closes it. Later calls get [`JournalError::Closed`].
    pub async fn close(&self) {
        let jobs = self
            .inner
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(jobs);
        let thread = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Ends the thread, which closes the file (a clean close: no WAL
        // left behind).
        self.jobs.get_mut().map(Option::take).ok();
        if let Ok(thread) = self.thread.get_mut() {
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Opens and locks the file, checks it is a sound journal (creating the
/// schema in a new one), and sets WAL and `synchronous=FULL`.
fn open_connection(path: &Path) -> Result<Connection, JournalError> {
    let unusable = |detail: String| JournalError::Unusable {
        path: path.to_path_buf(),
        detail,
    };
    // Never let SQLite near a file that is not SQLite at all.
    if let Ok(mut file) = std::fs::File::open(path) {
        use std::io::Read;
        let mut header = [0u8; 16];
        let mut read = 0;
        while read < header.len() {
            match file.read(&mut header[read..]) {
                Ok(0) => break,
                Ok(n) => read += n,
                Err(e) => return Err(unusable(format!("cannot read it: {e}"))),
            }
        }
        if read > 0 && (read < 16 || &header != b"SQLite format 3\0") {
            return Err(unusable("it is not an SQLite database".to_owned()));
        }
    }
    let sqlite = |e: rusqlite::Error| classify(path, e);
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    // No waiting: a held lock is another owner.
    connection.busy_timeout(Duration::ZERO).map_err(sqlite)?;
    // Exclusive before WAL: the WAL index then lives in this process's
    // memory, and the lock taken below is held until the file is closed.
    connection
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(sqlite)?;
    // Reads the file: a damaged header fails here.
    let application_id: i32 = connection
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(sqlite)?;
    let page_count: i64 = connection
        .pragma_query_value(None, "page_count", |row| row.get(0))
        .map_err(sqlite)?;
    let fresh = page_count == 0;
    if !fresh && application_id != APPLICATION_ID {
        return Err(unusable(
            "it is an SQLite database, but not a klarna-gateway journal".to_owned(),
        ));
    }
    if !fresh {
        let check: String = connection
            .pragma_query_value(None, "quick_check", |row| row.get(0))
            .map_err(sqlite)?;
        if check != "ok" {
            return Err(unusable(format!("it is damaged ({check})")));
        }
        let version: i32 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sqlite)?;
        if version != SCHEMA_VERSION {
            return Err(unusable(format!(
                "its schema version is {version}, this gateway reads {SCHEMA_VERSION}"
            )));
        }
    } else {
        // Only settable before the first table: freed pages can then be
        // handed back to the system.
        connection
            .pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(sqlite)?;
    }
    let mode: String = connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(JournalError::Sqlite {
            path: path.to_path_buf(),
            detail: format!("cannot use WAL (journal_mode is {mode})"),
        });
    }
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite)?;
    connection
        .pragma_update(None, "journal_size_limit", 8 * 1024 * 1024)
        .map_err(sqlite)?;
    // Takes the exclusive lock now, not at the first call, and creates
    // the schema in a new file.
    connection
        .execute_batch(&format!(
            "BEGIN EXCLUSIVE;
             CREATE TABLE IF NOT EXISTS calls (
                 id INTEGER PRIMARY KEY,
                 idempotency_key TEXT NOT NULL UNIQUE,
                 operation TEXT NOT NULL,
                 fingerprint TEXT NOT NULL,
                 arguments TEXT NOT NULL,
                 caller TEXT NOT NULL,
                 started_at INTEGER NOT NULL,
                 finished_at INTEGER,
                 attempts INTEGER NOT NULL,
                 state TEXT NOT NULL,
                 reached INTEGER NOT NULL DEFAULT 0,
                 status INTEGER,
                 ids TEXT,
                 correlation_id TEXT,
                 body TEXT
             );
             CREATE INDEX IF NOT EXISTS calls_by_state_and_time ON calls (state, finished_at);
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {SCHEMA_VERSION};
             COMMIT;"
        ))
        .map_err(sqlite)?;
    Ok(connection)
}

/// A failure of SQLite, told apart: held by another process, not a
/// database or damaged, or anything else.
fn classify(path: &Path, error: rusqlite::Error) -> JournalError {
    use rusqlite::ErrorCode;
    let path = path.to_path_buf();
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => JournalError::Locked { path },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => JournalError::Unusable {
            path,
            detail: format!("it is damaged ({error})"),
        },
        _ => JournalError::Sqlite {
            path,
            detail: error.to_string(),
        },
    }
}

/// A job's result once its batch has committed, or the batch's failure.
fn settle<T>(
    path: &Path,
    failure: Option<&str>,
    result: rusqlite::Result<T>,
) -> Result<T, JournalError> {
    match failure {
        Some(detail) => Err(JournalError::Sqlite {
            path: path.to_path_buf(),
            detail: detail.to_owned(),
        }),
        None => result.map_err(|e| classify(path, e)),
    }
}

/// The thread that owns the connection.
struct Writer {
    connection: Connection,
    path: PathBuf,
    options: JournalOptions,
    /// The ids of the calls in flight in this process.
    live: HashSet<i64>,
    last_prune: i64,
}

/// A job's reply, sent once its transaction has committed. Replies live only
/// until then, a batch at a time, so a variant's size costs nothing worth a
/// box (an allocation per lookup).
#[allow(clippy::large_enum_variant)]
enum Done {
    Admit(Reply<Admission>, rusqlite::Result<Admission>),
    Finish(Reply<()>, rusqlite::Result<()>),
    Lookup(Reply<Option<Entry>>, rusqlite::Result<Option<Entry>>),
    Pending(Reply<Vec<Entry>>, rusqlite::Result<Vec<Entry>>),
    Stats(Reply<Stats>, rusqlite::Result<Stats>),
    Prune(Reply<u64>, rusqlite::Result<u64>),
}

const COLUMNS: &str =
    "id, idempotency_key, operation, fingerprint, arguments, caller, started_at, \
     finished_at, attempts, state, reached, status, ids, correlation_id, body";

struct Row {
    id: i64,
    entry: Entry,
    reached: bool,
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let ids: Option<String> = row.get(12)?;
    Ok(Row {
        id: row.get(0)?,
        reached: row.get::<_, i64>(10)? != 0,
        entry: Entry {
            idempotency_key: row.get(1)?,
            operation: row.get(2)?,
            fingerprint: row.get(3)?,
            arguments: json(row.get(4)?).unwrap_or(Value::Null),
            caller: row.get(5)?,
            started_at_ms: row.get(6)?,
            finished_at_ms: row.get(7)?,
            attempts: row.get(8)?,
            state: State::parse(&row.get::<_, String>(9)?),
            status: row.get(11)?,
            ids: ids
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            correlation_id: row.get(13)?,
            body: json(row.get(14)?),
        },
    })
}

impl Entry {
    /// The outcome to answer the same call with again, when final.
    pub fn final_outcome(&self) -> Option<FinalOutcome> {
        let outcome = match self.state {
            State::Done => Outcome::Done,
            State::Refused => Outcome::Refused,
            _ => return None,
        };
        Some(FinalOutcome {
            status: self.status,
            outcome,
            ids: self.ids.clone(),
            correlation_id: self.correlation_id.clone(),
            body: self.body.as_ref().map(Value::to_string),
        })
    }
}

impl Writer {
    fn error(&self, error: rusqlite::Error) -> JournalError {
        classify(&self.path, error)
    }

    fn now(&self) -> i64 {
        (self.options.clock)()
    }

    fn count_pending(&self) -> rusqlite::Result<u64> {
        self.connection.query_row(
            "SELECT count(*) FROM calls WHERE state IN ('in_flight', 'unknown')",
            [],
            |row| row.get(0),
        )
    }

    fn run(mut self, jobs: mpsc::Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
        // Everything is in the file; leave no WAL behind.
        let _ = self
            .connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    }

    /// Runs a batch of jobs in one transaction, then replies to each: an
    /// admission is durable before its caller hears of it.
    fn commit(&mut self, batch: Vec<Job>) {
        let admitted_before = self.live.clone();
        let begun = self.connection.execute_batch("BEGIN IMMEDIATE");
        let mut done = Vec::with_capacity(batch.len());
        for job in batch {
            done.push(match job {
                Job::Admit(record, reply) => {
                    let result = self.admit(&record);
                    Done::Admit(reply, result)
                }
                Job::Finish(ticket, outcome, reply) => {
                    let result = self.finish(ticket, &outcome);
                    Done::Finish(reply, result)
                }
                Job::Lookup(key, reply) => Done::Lookup(reply, self.lookup(&key)),
                Job::Pending(reply) => Done::Pending(reply, self.pending()),
                Job::Stats(reply) => Done::Stats(reply, self.stats()),
                Job::Prune(reply) => Done::Prune(reply, self.prune()),
            });
        }
        if self.now().saturating_sub(self.last_prune) >= PRUNE_EVERY.as_millis() as i64 {
            let _ = self.prune();
        }
        let committed = begun.and_then(|()| self.connection.execute_batch("COMMIT"));
        let failure = committed.err().map(|e| {
            let _ = self.connection.execute_batch("ROLLBACK");
            // What this batch admitted was not recorded; what it finished
            // is no longer in flight here either way.
            self.live.retain(|id| admitted_before.contains(id));
            e.to_string()
        });
        let path = self.path.as_path();
        let failure = failure.as_deref();
        let mut abandoned = Vec::new();
        for reply in done {
            match reply {
                Done::Admit(reply, result) => {
                    // Nobody waits for the answer (see `Unclaimed`):
                    // nothing was sent, so the call ends as not sent rather
                    // than staying in flight, its key blocked.
                    if let Err(Ok(Admission::Proceed(ticket))) =
                        reply.send(settle(path, failure, result))
                    {
                        abandoned.push(ticket);
                    }
                }
                Done::Finish(reply, result) => {
                    let _ = reply.send(settle(path, failure, result));
                }
                Done::Lookup(reply, result) => {
                    let _ = reply.send(settle(path, failure, result));
                }
                Done::Pending(reply, result) => {
                    let _ = reply.send(settle(path, failure, result));
                }
                Done::Stats(reply, result) => {
                    let _ = reply.send(settle(path, failure, result));
                }
                Done::Prune(reply, result) => {
                    let _ = reply.send(settle(path, failure, result));
                }
            }
        }
        for ticket in abandoned {
            // A failure here leaves the call in flight until the journal
            // is reopened, as any failed finish does.
            let _ = self.finish(ticket, &FinalOutcome::not_sent());
        }
    }

    fn row_by_key(&self, key: &str) -> rusqlite::Result<Option<Row>> {
        self.connection
            .query_row(
                &format!("SELECT {COLUMNS} FROM calls WHERE idempotency_key = ?1"),
                [key],
                read_row,
            )
            .optional()
    }

    fn admit(&mut self, record: &CallRecord) -> rusqlite::Result<Admission> {
        let now = self.now();
        let arguments = record.arguments.to_string();
        let Some(row) = self.row_by_key(&record.idempotency_key)? else {
            self.connection.execute(
                "INSERT INTO calls (idempotency_key, operation, fingerprint, arguments, caller, \
                 started_at, attempts, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 'in_flight')",
                params![
                    record.idempotency_key,
                    record.operation,
                    record.fingerprint,
                    arguments,
                    record.caller,
                    now
                ],
            )?;
            let id = self.connection.last_insert_rowid();
            self.live.insert(id);
            return Ok(Admission::Proceed(Ticket(id as u64)));
        };
        let entry = &row.entry;
        // A call cut off by a crash may have been sent.
        let reached = row.reached || entry.state == State::InFlight;
        // A key means one request: the same arguments to another operation
        // are another request.
        if entry.operation != record.operation || entry.fingerprint != record.fingerprint {
            // Klarna never saw a key whose every attempt went unsent: it
            // is free for other arguments.
            if entry.state == State::NotSent && !reached {
                self.connection.execute(
                    "UPDATE calls SET operation = ?2, fingerprint = ?3, arguments = ?4, \
                     caller = ?5, attempts = attempts + 1, state = 'in_flight' WHERE id = ?1",
                    params![
                        row.id,
                        record.operation,
                        record.fingerprint,
                        arguments,
                        record.caller
                    ],
                )?;
                self.live.insert(row.id);
                return Ok(Admission::Proceed(Ticket(row.id as u64)));
            }
            return Ok(Admission::Reused {
                first_arguments: entry.arguments.clone(),
            });
        }
        if self.live.contains(&row.id) {
            return Ok(Admission::InProgress);
        }
        if let Some(outcome) = entry.final_outcome() {
            return Ok(Admission::Replay(outcome));
        }
        self.connection.execute(
            "UPDATE calls SET attempts = attempts + 1, state = 'in_flight', reached = ?2 \
             WHERE id = ?1",
            params![row.id, reached as i64],
        )?;
        self.live.insert(row.id);
        Ok(Admission::Proceed(Ticket(row.id as u64)))
    }

    fn finish(&mut self, ticket: Ticket, outcome: &FinalOutcome) -> rusqlite::Result<()> {
        let id = ticket.0 as i64;
        self.live.remove(&id);
        let reached: bool = self
            .connection
            .query_row("SELECT reached FROM calls WHERE id = ?1", [id], |row| {
                row.get::<_, i64>(0)
            })
            .optional()?
            .is_some_and(|r| r != 0);
        // An attempt that was not sent says nothing of an earlier one that
        // may have been.
        let state = match outcome.outcome {
            Outcome::NotSent if reached => State::Unknown,
            outcome => State::from(outcome),
        };
        let reached = reached || state == State::Unknown;
        let ids = (!outcome.ids.is_empty())
            .then(|| serde_json::to_string(&outcome.ids).unwrap_or_default());
        self.connection.execute(
            "UPDATE calls SET state = ?2, reached = ?3, status = ?4, ids = ?5, \
             correlation_id = ?6, body = ?7, finished_at = ?8 WHERE id = ?1",
            params![
                id,
                state.as_str(),
                reached as i64,
                outcome.status,
                ids,
                outcome.correlation_id,
                outcome.body,
                self.now()
            ],
        )?;
        Ok(())
    }

    fn lookup(&self, key: &str) -> rusqlite::Result<Option<Entry>> {
        Ok(self.row_by_key(key)?.map(|row| row.entry))
    }

    fn pending(&self) -> rusqlite::Result<Vec<Entry>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {COLUMNS} FROM calls WHERE state IN ('in_flight', 'unknown') ORDER BY id"
        ))?;
        let rows = statement.query_map([], read_row)?;
        let mut pending = Vec::new();
        for row in rows {
            let row = row?;
            if !self.live.contains(&row.id) {
                pending.push(row.entry);
            }
        }
        Ok(pending)
    }

    fn stats(&self) -> rusqlite::Result<Stats> {
        let (records, pending): (u64, u64) = self.connection.query_row(
            "SELECT count(*), count(*) FILTER (WHERE state IN ('in_flight', 'unknown')) FROM calls",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let pragma = |name: &str| -> rusqlite::Result<u64> {
            self.connection
                .pragma_query_value(None, name, |row| row.get(0))
        };
        let page_size = pragma("page_size")?;
        Ok(Stats {
            records,
            pending,
            file_bytes: pragma("page_count")? * page_size,
            free_bytes: pragma("freelist_count")? * page_size,
        })
    }

    /// Deletes the final (and not-sent) records that ended longer than the
    /// retention ago, and hands some free pages back to the system.
    fn prune(&mut self) -> rusqlite::Result<u64> {
        let now = self.now();
        self.last_prune = now;
        let cutoff = now.saturating_sub(self.options.retention.as_millis() as i64);
        let deleted = self.connection.execute(
            "DELETE FROM calls WHERE state IN ('done', 'refused', 'not_sent') AND finished_at < ?1",
            [cutoff],
        )?;
        // A little at a time, so that a prune never holds the journal for
        // long: freed pages are reused by new records first.
        self.connection
            .execute_batch("PRAGMA incremental_vacuum(256);")?;
        Ok(deleted as u64)
    }
}

/// Whether redaction took anything out: such a call cannot be sent again
/// from its record.
fn has_redactions(value: &Value) -> bool {
    match value {
        Value::String(s) => s == REDACTED,
        Value::Object(map) => map.values().any(has_redactions),
        Value::Array(items) => items.iter().any(has_redactions),
        _ => false,
    }
}

/// Why `journal resolve` leaves a pending call to a person, if it does.
pub fn unresendable(entry: &Entry, tool: Option<&Tool>, now_ms: i64) -> Option<String> {
    let Some(tool) = tool else {
        return Some(format!(
            "no operation `{}` in this gateway",
            entry.operation
        ));
    };
    if !tool.idempotency_key {
        return Some("the operation takes no idempotency key, so Klarna could act twice".into());
    }
    if now_ms.saturating_sub(entry.started_at_ms) > KLARNA_KEY_WINDOW.as_millis() as i64 {
        return Some("older than Klarna's 24 h key window, so Klarna could act twice".into());
    }
    if has_redactions(&entry.arguments) {
        return Some("its arguments held secrets, which the journal does not keep".into());
    }
    None
}

/// The journal as the call path's memory of keys.
impl Ledger for Journal {
    fn admit(&self, record: CallRecord) -> LedgerFuture<'_, Admission> {
        Box::pin(async move {
            Journal::admit(self, record)
                .await
                .map_err(|e| LedgerError(e.to_string()))
        })
    }

    fn finish(&self, ticket: Ticket, outcome: FinalOutcome) -> LedgerFuture<'_, ()> {
        Box::pin(async move {
            Journal::finish(self, ticket, outcome)
                .await
                .map_err(|e| LedgerError(e.to_string()))
        })
    }
}
