//! Where audit lines go: an append-only file rotated by size, or stdout.
//!
//! [`AuditLog::record`] writes the line before it returns, under the log's mutex, and hands the
//! result back as an [`AuditAck`] that the call awaits before it answers (already resolved). A
//! group commit (a writer thread writing every queued line in one `write`, calls awaiting their
//! acknowledgement) was tried and measured slower: with two cores the writer woke for nearly every
//! line, and the context switches cost more server CPU per call than the `write` it saved
//! (bench/BENCHMARKS.md, "Audit group commit").
//!
//! # What is durable when
//!
//! - When an [`AuditAck`] resolves `Ok`, the whole line is in the kernel: it was handed over in
//!   one `write` with no userspace buffer in between. It survives a crash or kill of this process.
//! - A background thread calls `fdatasync` on the file every [`SYNC_INTERVAL`] when lines were
//!   written since the last sync: an OS crash or power loss loses at most the lines of the last
//!   interval. A failed sync is logged and makes the next [`AuditLog::record`] fail, so the caller
//!   learns of it.
//! - On rotation the file is renamed at once; its unsynced lines and the directory's renames are
//!   synced by the same background thread at its next turn, without the log's lock, so a rotation
//!   never holds every call up behind an `fdatasync`. A rotated file is complete on disk within
//!   one [`SYNC_INTERVAL`], like every line. [`AuditLog::sync`] syncs on demand (shutdown).
//! - A line cut short (a failed write, or a process killed inside one, found when the file is
//!   opened) is ended by a newline written in front of the next line: a reader skips one fragment
//!   and loses no whole line.
//! - Stdout: the line is written and flushed to the file descriptor; what happens next is the
//!   reader's business (no sync, no rotation).
//!
//! # Buffered lines (opt-in)
//!
//! [`AuditLog::open_buffered`] trades the first guarantee for speed: a line is queued in memory and
//! the call answers at once; the background thread writes the queue in one `write` every `interval`
//! (at most [`SYNC_INTERVAL`]), and a call whose line fills the queue to [`BUFFER_MAX_BYTES`]
//! writes it itself, so memory stays bounded and a stalled disk slows calls instead of losing
//! lines. What this costs: a crash or kill of the process loses the lines of the last `interval`
//! (the OS-crash window is unchanged: one [`SYNC_INTERVAL`]); a failed background write loses its
//! batch, is logged, and fails the next call, as a failed sync does. Lines still reach the file in
//! the order they were recorded. [`AuditLog::sync`] and dropping the log write the queue first.
//!
//! # Rotation
//!
//! When a line would take the file past `max_bytes`, the file is closed and renamed to
//! `<file>.1` after shifting `<file>.1` .. `<file>.4` one up (the oldest, `<file>.5` of
//! [`ROTATED_FILES`], is overwritten), and a new `<file>` is started. A single line longer than
//! `max_bytes` still goes whole into a fresh file. `max_bytes == 0` disables rotation.

use std::{
    ffi::OsString,
    fs::{File, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, Weak},
    time::Duration,
};

use super::AuditEvent;
use crate::private_fs::FILE_MODE;

/// How many rotated files are kept: `<file>.1` (newest) .. `<file>.5` (oldest).
pub const ROTATED_FILES: u32 = 5;
/// The default size at which the file is rotated: 100 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// Bytes reserved for a line up front: a one-key line is about 330, so most lines never grow.
const LINE_CAPACITY: usize = 512;
/// How often written lines are synced to disk (see the module docs).
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Queued bytes at which a buffered log's caller writes the queue itself: a few thousand lines.
pub const BUFFER_MAX_BYTES: usize = 1024 * 1024;

/// The outcome of one recorded line, awaited by the call before it answers (see the module docs).
#[derive(Debug)]
#[must_use = "a call answers only once its audit line is written"]
pub struct AuditAck(Option<io::Result<()>>);

impl AuditAck {
    /// The outcome, on this thread.
    pub fn wait(mut self) -> io::Result<()> {
        self.take()
    }

    fn take(&mut self) -> io::Result<()> {
        self.0
            .take()
            .unwrap_or_else(|| Err(io::Error::other("audit log: outcome already taken")))
    }
}

impl std::future::Future for AuditAck {
    type Output = io::Result<()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(self.take())
    }
}

/// Where the audit log is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    /// The process's standard output (`--audit-log -`).
    Stdout,
    /// A file, created owner-only (0600) and appended to.
    File(PathBuf),
}

/// The audit log: thread-safe, cheap to share behind an `Arc`. See the module docs for the
/// durability and rotation contracts.
#[derive(Debug)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

/// Lines recorded and not yet written (a buffered log only).
#[derive(Debug, Default)]
struct Queue {
    bytes: Vec<u8>,
    /// The buffer the last batch was written from, emptied: the next batch queues into it, so
    /// the queue does not grow its allocation again from nothing after every write.
    spare: Vec<u8>,
    /// Why the last background write failed, reported by the next record.
    failure: Option<String>,
}

#[derive(Debug)]
struct Shared {
    sink: Mutex<Sink>,
    /// `Some` for a buffered log: its queue, written by the background thread. Taken
    /// only while holding `sink`, so batches are written in the order they were queued.
    queue: Option<Mutex<Queue>>,
}

#[derive(Debug)]
enum Sink {
    Stdout,
    File(FileSink),
}

#[derive(Debug)]
struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    /// `None` after a failed rotation: the next line reopens `path`.
    file: Option<File>,
    /// Bytes in the current file.
    len: u64,
    /// Lines were written since the last sync.
    dirty: bool,
    /// A write failed part-way: the file may end in a fragment, which the next line terminates.
    torn: bool,
    /// Why the last background sync failed, reported by the next record.
    sync_failure: Option<String>,
    /// Files rotated out with lines not yet synced (see the module docs).
    retired: Vec<File>,
    /// Renames in the directory not yet synced.
    renamed: bool,
}

/// What a sync has to make durable, taken under the lock and synced without it.
#[derive(Debug, Default)]
struct Unsynced {
    /// Rotated-out files, then the current one.
    files: Vec<File>,
    /// The directory, after renames.
    dir: Option<PathBuf>,
}

impl Unsynced {
    /// Syncs everything, even after a failure; the first error is the result.
    fn sync(self) -> io::Result<()> {
        let dir = self.dir.map(|path| sync_dir(&path));
        self.files
            .iter()
            .map(File::sync_data)
            .chain(dir)
            .fold(Ok(()), Result::and)
    }
}

impl AuditLog {
    /// Opens the log. A file is created 0600 (an existing one loses group and other access) and
    /// appended to; its parent directory must exist. `max_bytes` is the rotation size (0: never
    /// rotate); it does not apply to stdout.
    pub fn open(target: AuditTarget, max_bytes: u64) -> io::Result<AuditLog> {
        Self::start(target, max_bytes, None)
    }

    /// Like [`AuditLog::open`], but lines are queued and written every `interval` (see "Buffered
    /// lines" in the module docs). `interval` must be between 1 ms and [`SYNC_INTERVAL`].
    pub fn open_buffered(
        target: AuditTarget,
        max_bytes: u64,
        interval: Duration,
    ) -> io::Result<AuditLog> {
        if interval < Duration::from_millis(1) || interval > SYNC_INTERVAL {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the audit buffer interval must be 1 ms to {} ms",
                    SYNC_INTERVAL.as_millis()
                ),
            ));
        }
        Self::start(target, max_bytes, Some(interval))
    }

    fn start(
        target: AuditTarget,
        max_bytes: u64,
        interval: Option<Duration>,
    ) -> io::Result<AuditLog> {
        let sink = match target {
            AuditTarget::Stdout => Sink::Stdout,
            AuditTarget::File(path) => {
                let (file, len, torn) = open_append(&path)?;
                Sink::File(FileSink {
                    path,
                    max_bytes,
                    file: Some(file),
                    len,
                    dirty: false,
                    torn,
                    sync_failure: None,
                    retired: Vec::new(),
                    renamed: false,
                })
            }
        };
        let is_file = matches!(sink, Sink::File(_));
        let shared = Arc::new(Shared {
            sink: Mutex::new(sink),
            queue: interval.map(|_| Mutex::default()),
        });
        if is_file || interval.is_some() {
            let weak = Arc::downgrade(&shared);
            std::thread::Builder::new()
                .name("audit-sync".into())
                .spawn(move || sync_loop(&weak, interval.unwrap_or(SYNC_INTERVAL)))?;
        }
        Ok(AuditLog { shared })
    }

    /// Writes `event` as one JSON line and returns the outcome as an [`AuditAck`]: `Ok` when the
    /// line is in the kernel (or, buffered, in the queue: see the module docs); any error
    /// (serialization, rotation, the write, an earlier failed sync or background write) is the
    /// error, and the caller must then fail the call.
    pub fn record(&self, event: &AuditEvent<'_>) -> AuditAck {
        AuditAck(Some(self.write(event)))
    }

    fn write(&self, event: &AuditEvent<'_>) -> io::Result<()> {
        let mut line = Vec::with_capacity(LINE_CAPACITY);
        event.write_json(&mut line)?;
        line.push(b'\n');
        let Some(queue) = &self.shared.queue else {
            return self.shared.lock()?.write_lines(&line);
        };
        let full = {
            let mut queue = lock(queue)?;
            if let Some(why) = queue.failure.take() {
                return Err(io::Error::other(why));
            }
            queue.bytes.extend_from_slice(&line);
            queue.bytes.len() >= BUFFER_MAX_BYTES
        };
        if full { self.shared.flush() } else { Ok(()) }
    }

    /// Writes the queued lines (buffered) and syncs the file's written lines to disk now (a no-op
    /// for stdout).
    pub fn sync(&self) -> io::Result<()> {
        let unsynced = {
            let mut sink = self.shared.lock()?;
            self.shared.write_queue(&mut sink)?;
            match &mut *sink {
                Sink::File(sink) => sink.take_unsynced()?,
                Sink::Stdout => Unsynced::default(),
            }
        };
        unsynced.sync()
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::error!(error = %e, "audit log: final sync failed");
        }
    }
}

impl Shared {
    fn lock(&self) -> io::Result<MutexGuard<'_, Sink>> {
        lock(&self.sink)
    }

    /// Writes the queued lines, if any; the caller holds the sink's lock (see [`Shared::queue`]).
    /// A failed background sync is handed to the queue first, so these lines still go out and the
    /// next record reports it.
    fn write_queue(&self, sink: &mut Sink) -> io::Result<()> {
        let Some(queue) = &self.queue else {
            return Ok(());
        };
        let bytes = {
            let mut queue = lock(queue)?;
            if let Sink::File(file) = sink
                && let Some(e) = file.take_sync_failure()
            {
                queue.failure.get_or_insert(e.to_string());
            }
            let spare = std::mem::take(&mut queue.spare);
            std::mem::replace(&mut queue.bytes, spare)
        };
        if bytes.is_empty() {
            return Ok(());
        }
        let written = sink.write_lines(&bytes);
        let mut bytes = bytes;
        bytes.clear();
        lock(queue)?.spare = bytes;
        written
    }

    /// Writes the queued lines now.
    fn flush(&self) -> io::Result<()> {
        let mut sink = self.lock()?;
        self.write_queue(&mut sink)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> io::Result<MutexGuard<'_, T>> {
    mutex
        .lock()
        .map_err(|_| io::Error::other("audit log: a writer panicked while holding the log"))
}

impl Sink {
    /// Writes whole lines (one or many, each ending in a newline).
    fn write_lines(&mut self, lines: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(lines)?;
                out.flush()
            }
            Sink::File(sink) => sink.write_lines(lines),
        }
    }
}

impl FileSink {
    /// Writes whole lines, as many in one `write` as fit before the file's rotation.
    fn write_lines(&mut self, mut lines: &[u8]) -> io::Result<()> {
        while !lines.is_empty() {
            let room = match self.max_bytes {
                0 => u64::MAX,
                max => max.saturating_sub(self.len),
            };
            let end = if lines.len() as u64 <= room {
                lines.len()
            } else {
                // The lines that fit; if none does, the first alone (into a fresh file).
                let fit = &lines[..room as usize];
                let first = || {
                    lines
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(lines.len(), |i| i + 1)
                };
                fit.iter()
                    .rposition(|&b| b == b'\n')
                    .map_or_else(first, |i| i + 1)
            };
            let (chunk, rest) = lines.split_at(end);
            self.write_line(chunk)?;
            lines = rest;
        }
        Ok(())
    }

    /// Writes `line` (one line, or several that fit) in one `write`, rotating first if it would
    /// take a non-empty file past `max_bytes`.
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if let Some(e) = self.take_sync_failure() {
            return Err(e);
        }
        let line_len = line.len() as u64;
        if self.max_bytes > 0 && self.len > 0 && self.len + line_len > self.max_bytes {
            self.rotate()?;
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let (file, len, torn) = open_append(&self.path)?;
                self.len = len;
                self.torn |= torn;
                self.file.insert(file)
            }
        };
        let written = if self.torn {
            // One write still: the newline that ends the fragment, then the line.
            file.write_all(&[&b"\n"[..], line].concat())
        } else {
            file.write_all(line)
        };
        match written {
            Ok(()) => {
                self.len += line_len + u64::from(self.torn);
                self.torn = false;
                self.dirty = true;
                Ok(())
            }
            Err(e) => {
                self.torn = true;
                Err(e)
            }
        }
    }

    /// The failure of the last background sync, once.
    fn take_sync_failure(&mut self) -> Option<io::Error> {
        let why = self.sync_failure.take()?;
        Some(io::Error::other(format!(
            "audit log: syncing {} failed: {why}",
            self.path.display()
        )))
    }

    /// Closes the current file (kept for the next sync if it has unsynced lines), shifts the
    /// rotated ones and renames it to `<file>.1`. The next line opens a new file.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(file) = self.file.take()
            && self.dirty
        {
            // Of the files rotated out since the last sync only the newest ROTATED_FILES still
            // have a name: an older one has been renamed over, its lines are gone anyway.
            if self.retired.len() == ROTATED_FILES as usize {
                self.retired.remove(0);
            }
            self.retired.push(file);
        }
        self.dirty = false;
        self.torn = false;
        self.len = 0;
        self.renamed = true;
        for n in (1..ROTATED_FILES).rev() {
            match std::fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))
    }

    /// What to sync since the last sync: the rotated-out files, the current file if lines were
    /// written to it (a duplicate handle, so the sync runs without the lock), the directory after
    /// renames. Clears the marks.
    fn take_unsynced(&mut self) -> io::Result<Unsynced> {
        let current = match &self.file {
            Some(file) if self.dirty => Some(file.try_clone()?),
            _ => None,
        };
        self.dirty = false;
        let mut files = std::mem::take(&mut self.retired);
        files.extend(current);
        let dir = std::mem::take(&mut self.renamed).then(|| self.path.clone());
        Ok(Unsynced { files, dir })
    }
}

/// `<path>.<n>`.
fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Opens `path` to append, and returns it with its length and whether it ends in a fragment (a
/// process killed part-way through a line): the next line then starts with the newline that ends
/// it, so a reader loses the fragment, not the line after it.
fn open_append(path: &Path) -> io::Result<(File, u64, bool)> {
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, FILE_MODE);
    let file = opts.open(path)?;
    // An existing file made under a wider umask: take group and other access away. Only a regular
    // file: a device such as /dev/full keeps its mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = file.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o777 != FILE_MODE {
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    let len = file.metadata()?.len();
    let torn = len > 0 && last_byte(&file, len)? != b'\n';
    Ok((file, len, torn))
}

fn last_byte(file: &File, len: u64) -> io::Result<u8> {
    let mut byte = [0u8];
    #[cfg(unix)]
    std::os::unix::fs::FileExt::read_exact_at(file, &mut byte, len - 1)?;
    #[cfg(not(unix))]
    {
        use std::io::{Read as _, Seek as _};
        let mut file = file;
        file.seek(io::SeekFrom::Start(len - 1))?;
        file.read_exact(&mut byte)?;
    }
    Ok(byte[0])
}

/// Syncs the directory holding `path`, so renames in it are durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Every [`SYNC_INTERVAL`], syncs what was written or rotated since the last turn; a buffered log
/// also writes its queue every `every`. Ends when the log is dropped.
fn sync_loop(shared: &Weak<Shared>, every: Duration) {
    let mut last_sync = std::time::Instant::now();
    loop {
        std::thread::sleep(every);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Err(e) = shared.flush() {
            tracing::error!(error = %e, "audit log: writing queued lines failed; they are lost");
            let Some(queue) = &shared.queue else {
                return;
            };
            let Ok(mut queue) = lock(queue) else {
                return;
            };
            queue.failure = Some(format!("audit log: writing queued lines failed: {e}"));
        }
        if last_sync.elapsed() < SYNC_INTERVAL {
            continue;
        }
        last_sync = std::time::Instant::now();
        // The handles are taken under the lock; the syncs themselves run without it.
        let unsynced = {
            let Ok(mut sink) = shared.lock() else {
                return;
            };
            match &mut *sink {
                Sink::File(sink) => sink.take_unsynced(),
                Sink::Stdout => continue,
            }
        };
        if let Err(e) = unsynced.and_then(Unsynced::sync) {
            tracing::error!(error = %e, "audit log: background sync failed");
            if let Ok(mut sink) = shared.lock()
                && let Sink::File(sink) = &mut *sink
            {
                sink.sync_failure = Some(e.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::audit::{AuditKey, Outcome, RequestId};

    fn event(rpc: &str) -> AuditEvent<'_> {
        AuditEvent {
            time: time::OffsetDateTime::UNIX_EPOCH,
            request_id: RequestId::new(),
            identity: "admin",
            peer: None,
            rpc,
            keys: vec![AuditKey::named("alias/app")],
            context_keys: BTreeSet::from(["bucket"]),
            outcome: Outcome::Ok,
        }
    }

    fn line_len(rpc: &str) -> u64 {
        event(rpc).json_text().len() as u64 + 1
    }

    impl AuditLog {
        fn rec(&self, event: &AuditEvent<'_>) -> io::Result<()> {
            self.record(event).wait()
        }
    }

    /// Eight threads record 250 lines each at once: every line is written exactly once, whole,
    /// and each thread's lines keep their order.
    #[test]
    fn concurrent_lines_are_each_written_once_and_whole() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(AuditTarget::File(path.clone()), 0).expect("open");
        eight_threads_keep_their_order(log, &path);
    }

    /// 8 threads record 250 lines each: after a sync, every line is in `path` once, and each
    /// thread's in its order.
    fn eight_threads_keep_their_order(log: AuditLog, path: &Path) {
        let log = Arc::new(log);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    (0..250).try_for_each(|i| log.rec(&event(&format!("T{t}-{i:03}"))))
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic").expect("every line recorded");
        }
        log.sync().expect("sync");
        let rpcs = rpcs_in(path);
        assert_eq!(rpcs.len(), 2000);
        for t in 0..8 {
            let prefix = format!("T{t}-");
            let mine: Vec<&String> = rpcs.iter().filter(|r| r.starts_with(&prefix)).collect();
            let want: Vec<String> = (0..250).map(|i| format!("T{t}-{i:03}")).collect();
            assert_eq!(mine, want.iter().collect::<Vec<_>>(), "thread {t}");
        }
    }

    fn rpcs_in(path: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(path).expect("the file is readable");
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
                v["rpc"].as_str().expect("rpc is a string").to_owned()
            })
            .collect()
    }

    #[test]
    fn lines_are_appended_to_a_0600_file() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        std::fs::write(&path, b"{\"rpc\":\"Earlier\"}\n").expect("seed the file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let log = AuditLog::open(AuditTarget::File(path.clone()), 0).expect("open");
        log.rec(&event("Decrypt")).expect("record");
        log.rec(&event("Encrypt")).expect("record");
        // In the kernel already: readable through another handle before any sync.
        assert_eq!(rpcs_in(&path), ["Earlier", "Decrypt", "Encrypt"]);
        log.sync().expect("sync");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, FILE_MODE);
        }
    }

    #[test]
    fn rotation_keeps_every_line_and_at_most_the_documented_files() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let one = line_len("R00");
        // Three lines fit, the fourth rotates.
        let max = 3 * one + one / 2;
        let log = AuditLog::open(AuditTarget::File(path.clone()), max).expect("open");
        let total = 3 * (ROTATED_FILES + 1) as usize;
        for i in 0..total {
            log.rec(&event(&format!("R{i:02}"))).expect("record");
        }
        // 18 lines, 3 per file: the live file and .1 .. .5 hold them all, oldest in .5.
        let mut seen = Vec::new();
        for n in (1..=ROTATED_FILES).rev() {
            let file = rotated(&path, n);
            assert_eq!(
                std::fs::metadata(&file).expect("stat").len(),
                3 * one,
                "{n}"
            );
            seen.extend(rpcs_in(&file));
        }
        seen.extend(rpcs_in(&path));
        let want: Vec<String> = (0..total).map(|i| format!("R{i:02}")).collect();
        assert_eq!(seen, want);
        assert!(!rotated(&path, ROTATED_FILES + 1).exists());

        // One more file's worth: the oldest file is dropped, nothing else.
        for i in total..total + 3 {
            log.rec(&event(&format!("R{i:02}"))).expect("record");
        }
        assert_eq!(
            rpcs_in(&rotated(&path, ROTATED_FILES)),
            ["R03", "R04", "R05"]
        );
        assert_eq!(rpcs_in(&path), ["R18", "R19", "R20"]);
        assert!(!rotated(&path, ROTATED_FILES + 1).exists());
    }

    /// A rotation syncs nothing under the lock: the rotated-out file and the directory wait for
    /// the next sync, which takes them all; a file with nothing unsynced is just closed.
    #[test]
    fn rotation_leaves_its_syncs_to_the_next_sync() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(AuditTarget::File(path.clone()), 1).expect("open");
        let pending = |log: &AuditLog| match &mut *log.shared.lock().expect("lock") {
            Sink::File(sink) => (sink.retired.len(), sink.renamed, sink.dirty),
            Sink::Stdout => unreachable!("a file target"),
        };
        log.rec(&event("R0")).expect("record");
        log.rec(&event("R1")).expect("record: rotates");
        assert_eq!(pending(&log), (1, true, true));
        log.sync().expect("sync");
        assert_eq!(pending(&log), (0, false, false));
        log.sync().expect("nothing to sync");
        log.rec(&event("R2"))
            .expect("record: rotates a synced file");
        assert_eq!(pending(&log), (0, true, true));
        assert_eq!(rpcs_in(&rotated(&path, 2)), ["R0"]);
        assert_eq!(rpcs_in(&rotated(&path, 1)), ["R1"]);
        assert_eq!(rpcs_in(&path), ["R2"]);

        // Many rotations between two syncs keep only the files that still have a name open.
        for i in 0..3 * ROTATED_FILES {
            log.rec(&event(&format!("M{i}"))).expect("record: rotates");
        }
        assert_eq!(pending(&log), (ROTATED_FILES as usize, true, true));
    }

    #[test]
    fn a_line_longer_than_the_limit_goes_whole_into_a_fresh_file() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(AuditTarget::File(path.clone()), 10).expect("open");
        log.rec(&event("First")).expect("record");
        log.rec(&event("Second")).expect("record");
        assert_eq!(rpcs_in(&rotated(&path, 1)), ["First"]);
        assert_eq!(rpcs_in(&path), ["Second"]);
    }

    #[test]
    fn an_existing_file_counts_towards_the_limit() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let one = line_len("R0");
        {
            let log = AuditLog::open(AuditTarget::File(path.clone()), 2 * one).expect("open");
            log.rec(&event("R0")).expect("record");
        }
        let log = AuditLog::open(AuditTarget::File(path.clone()), 2 * one).expect("reopen");
        log.rec(&event("R1")).expect("record");
        log.rec(&event("R2")).expect("record");
        assert_eq!(rpcs_in(&rotated(&path, 1)), ["R0", "R1"]);
        assert_eq!(rpcs_in(&path), ["R2"]);
    }

    #[test]
    fn a_fragment_left_by_a_killed_process_is_ended_before_the_next_line() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        std::fs::write(&path, b"{\"rpc\":\"R0\"}\n{\"rpc\":\"Cut").expect("write a fragment");
        let log = AuditLog::open(AuditTarget::File(path.clone()), 0).expect("open");
        log.rec(&event("R1")).expect("record");
        log.rec(&event("R2")).expect("record");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["{\"rpc\":\"R0\"}", "{\"rpc\":\"Cut"]);
        let rpcs: Vec<String> = lines[2..]
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["rpc"].to_string())
            .collect();
        assert_eq!(rpcs, ["\"R1\"", "\"R2\""]);
        // The newline counts towards the file's length.
        let len = std::fs::metadata(&path).expect("stat").len();
        assert_eq!(len, text.len() as u64);
        assert!(text.ends_with('\n'));

        // A file that ends whole gets no extra newline.
        drop(log);
        let log = AuditLog::open(AuditTarget::File(path.clone()), 0).expect("reopen");
        log.rec(&event("R3")).expect("record");
        let again = std::fs::read_to_string(&path).expect("read");
        assert_eq!(again.len() as u64, len + line_len("R3"));
    }

    fn buffered(path: &Path, max_bytes: u64, every_ms: u64) -> AuditLog {
        AuditLog::open_buffered(
            AuditTarget::File(path.to_owned()),
            max_bytes,
            Duration::from_millis(every_ms),
        )
        .expect("open buffered")
    }

    /// `true` once `check` holds, polled for up to 10 s.
    fn eventually(mut check: impl FnMut() -> bool) -> bool {
        (0..1000).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            check()
        })
    }

    #[test]
    fn buffered_lines_wait_for_the_interval_or_a_sync() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let opened = std::time::Instant::now();
        let log = buffered(&path, 0, SYNC_INTERVAL.as_millis() as u64);
        for rpc in ["R0", "R1", "R2"] {
            log.rec(&event(rpc)).expect("queued");
        }
        let len = std::fs::metadata(&path).expect("stat").len();
        // Unless the machine stalled for the whole interval (then the background thread may
        // have written them).
        if opened.elapsed() < SYNC_INTERVAL {
            assert_eq!(len, 0);
        }
        log.sync().expect("sync writes the queue");
        assert_eq!(rpcs_in(&path), ["R0", "R1", "R2"]);

        // Dropping the log writes what is queued.
        log.rec(&event("R3")).expect("queued");
        drop(log);
        assert_eq!(rpcs_in(&path), ["R0", "R1", "R2", "R3"]);
    }

    #[test]
    fn an_event_that_cannot_be_written_fails_its_call_and_leaves_no_fragment() {
        let dir = tempfile::tempdir().expect("a temp dir");
        for (name, log) in [
            (
                "direct",
                AuditLog::open(AuditTarget::File(dir.path().join("direct")), 0),
            ),
            (
                "buffered",
                Ok(buffered(&dir.path().join("buffered"), 0, 1000)),
            ),
        ] {
            let log = log.expect("the log opens");
            let mut bad = event("Bad");
            bad.time = time::OffsetDateTime::from_unix_timestamp(-62_167_219_201)
                .expect("the last second of year -1");
            let err = log.rec(&bad).expect_err("a year before 0 is refused");
            assert_eq!(
                err.to_string(),
                "audit time -0001-12-31 23:59:59.0 +00:00:00 is outside the years RFC 3339 writes",
                "{name}"
            );
            log.rec(&event("Good")).expect("the next line is written");
            log.sync().expect("synced");
            assert_eq!(rpcs_in(&dir.path().join(name)), ["Good"], "{name}");
        }
    }

    #[test]
    fn a_written_batch_leaves_its_buffer_for_the_next() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let log = buffered(&path, 0, SYNC_INTERVAL.as_millis() as u64);
        let queue = || lock(log.shared.queue.as_ref().expect("buffered")).expect("the queue");
        for batch in ["R0", "R1", "R2"] {
            log.rec(&event(batch)).expect("queued");
            log.sync().expect("sync writes the queue");
        }
        assert_eq!(rpcs_in(&path), ["R0", "R1", "R2"]);
        let (bytes, spare) = {
            let q = queue();
            (q.bytes.capacity(), q.spare.capacity())
        };
        let line = usize::try_from(line_len("R0")).expect("a line's length fits");
        assert!(bytes >= line && spare >= line, "{bytes} {spare}");
        assert!(queue().bytes.is_empty() && queue().spare.is_empty());
    }

    #[test]
    fn buffered_lines_are_written_by_the_background_thread() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let log = buffered(&path, 0, 5);
        log.rec(&event("R0")).expect("queued");
        log.rec(&event("R1")).expect("queued");
        assert!(eventually(|| rpcs_in(&path).len() == 2));
        assert_eq!(rpcs_in(&path), ["R0", "R1"]);
    }

    #[test]
    fn a_full_queue_is_written_by_the_call_that_fills_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        // The background thread would wait a second: the lines seen before are the caller's
        // (unless the machine stalled for that second).
        let opened = std::time::Instant::now();
        let log = buffered(&path, 0, SYNC_INTERVAL.as_millis() as u64);
        let lines = BUFFER_MAX_BYTES as u64 / line_len("F0000") + 1;
        for i in 0..lines {
            log.rec(&event(&format!("F{i:04}"))).expect("recorded");
        }
        let len = std::fs::metadata(&path).expect("stat").len();
        if opened.elapsed() < SYNC_INTERVAL {
            assert_eq!(len, lines * line_len("F0000"));
        }
        assert_eq!(rpcs_in(&path).len() as u64, lines);
    }

    #[test]
    fn buffered_lines_from_many_threads_keep_each_threads_order() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        eight_threads_keep_their_order(buffered(&path, 0, 1), &path);
    }

    #[test]
    fn a_buffered_batch_is_split_whole_across_rotations() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let one = line_len("R0");
        let log = buffered(&path, 2 * one + one / 2, SYNC_INTERVAL.as_millis() as u64);
        for i in 0..5 {
            log.rec(&event(&format!("R{i}"))).expect("queued");
        }
        log.sync().expect("sync");
        assert_eq!(rpcs_in(&rotated(&path, 2)), ["R0", "R1"]);
        assert_eq!(rpcs_in(&rotated(&path, 1)), ["R2", "R3"]);
        assert_eq!(rpcs_in(&path), ["R4"]);

        // A line longer than the limit still goes whole, alone, into a fresh file.
        let log = buffered(&dir.path().join("small.log"), 10, 1000);
        log.rec(&event("A")).expect("queued");
        log.rec(&event("B")).expect("queued");
        log.sync().expect("sync");
        assert_eq!(rpcs_in(&rotated(&dir.path().join("small.log"), 1)), ["A"]);
        assert_eq!(rpcs_in(&dir.path().join("small.log")), ["B"]);
    }

    #[test]
    fn a_failed_background_write_fails_the_next_record_once() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let log = buffered(full, 0, 1);
        log.rec(&event("Lost")).expect("queued");
        let mut failure = None;
        assert!(eventually(|| {
            match log.rec(&event("Next")) {
                Ok(()) => false,
                Err(e) => {
                    failure = Some(e.to_string());
                    true
                }
            }
        }));
        let failure = failure.expect("a failure");
        assert!(
            failure.starts_with("audit log: writing queued lines failed: ")
                && failure.contains("No space left on device"),
            "{failure}"
        );
        log.rec(&event("After")).expect("reported once");
    }

    #[test]
    fn a_buffer_interval_outside_its_range_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        for bad in [Duration::ZERO, SYNC_INTERVAL + Duration::from_millis(1)] {
            let err = AuditLog::open_buffered(AuditTarget::File(path.clone()), 0, bad)
                .expect_err("refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(
                err.to_string(),
                "the audit buffer interval must be 1 ms to 1000 ms"
            );
        }
        assert!(!path.exists());
    }

    #[test]
    fn a_full_device_fails_the_record() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let log = AuditLog::open(AuditTarget::File(full.to_owned()), 0).expect("open /dev/full");
        let err = log.rec(&event("Decrypt")).expect_err("no space left");
        assert_eq!(err.raw_os_error(), Some(28), "ENOSPC: {err}");
        // And again: an error is never turned into a silent success.
        assert!(log.rec(&event("Decrypt")).is_err());
    }

    #[test]
    fn a_removed_directory_fails_the_record_at_rotation_and_the_log_recovers() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).expect("mkdir");
        let path = logs.join("audit.log");
        let log = AuditLog::open(AuditTarget::File(path.clone()), 1).expect("open");
        log.rec(&event("R0")).expect("record");
        std::fs::remove_dir_all(&logs).expect("rm -r");
        let err = log
            .rec(&event("R1"))
            .expect_err("the file cannot be rotated");
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(log.rec(&event("R1")).is_err(), "still no directory");
        // The directory comes back: the next line starts a new file.
        std::fs::create_dir(&logs).expect("mkdir");
        log.rec(&event("R2")).expect("record");
        assert_eq!(rpcs_in(&path), ["R2"]);
    }

    #[test]
    fn a_missing_directory_fails_the_open() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let err = AuditLog::open(AuditTarget::File(dir.path().join("no/audit.log")), 0)
            .expect_err("no parent directory");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_failed_background_sync_fails_the_next_record_once() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(AuditTarget::File(path.clone()), 0).expect("open");
        if let Sink::File(sink) = &mut *log.shared.lock().expect("lock") {
            sink.sync_failure = Some("EIO".into());
        }
        let err = log
            .rec(&event("R0"))
            .expect_err("the failed sync is reported");
        assert!(err.to_string().contains("EIO"), "{err}");
        log.rec(&event("R1")).expect("record");
        assert_eq!(rpcs_in(&path), ["R1"]);
    }

    #[test]
    fn the_stdout_target_constructs_and_writes() {
        let log = AuditLog::open(AuditTarget::Stdout, 0).expect("stdout");
        log.rec(&event("Stdout")).expect("record to stdout");
        log.sync().expect("a no-op");
    }

    #[test]
    fn rotated_names_append_a_number() {
        assert_eq!(
            rotated(Path::new("/var/log/kms/audit.log"), 3),
            Path::new("/var/log/kms/audit.log.3")
        );
    }
}
