//! Reading stored bodies: a range of the concatenated body files, in chunks of the size the
//! consumer wants, read ahead on the blocking pool.
//!
//! Why not `tokio::fs::File` + `ReaderStream`: tokio's file reads into its own buffer and then copies
//! into the caller's, so every byte was copied twice in user space. Here each chunk is read with
//! `std::fs` straight into the `Vec` that becomes the chunk's `Bytes`, on a blocking thread. For an
//! encrypted body the chunk is [`storage_adapter::STORED_READ_SIZE`] (whole stored segments), so the
//! decryptor never gathers a segment that straddles two chunks.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;

use bytes::Bytes;
use futures::StreamExt as _;

use crate::body::ByteStream;
use crate::error::{Error, Result};
use crate::store::{ReadPin, Store};

/// Chunk size for a plain body (and for a copy of stored bytes).
pub const PLAIN_CHUNK: usize = storage_adapter::PLAIN_READ_SIZE;
/// Chunk size for an encrypted body's stored bytes.
pub const STORED_CHUNK: usize = storage_adapter::STORED_READ_SIZE;
/// Bytes a read keeps in flight ahead of its consumer (a few chunks: enough to overlap the disk,
/// the decryption and the socket, little enough per connection).
const READ_AHEAD_BYTES: usize = 4 * STORED_CHUNK;

/// Stored bytes `range` of a body made of `files`, as a stream of chunks of at most `chunk` bytes
/// (every chunk but a file's last is exactly `chunk`), read ahead of the consumer. The stream holds
/// `pin` (the files' [`ReadPin`]) until it is dropped, so files are opened late without risk.
pub async fn read_stored(
    store: &Store,
    files: &[String],
    range: std::ops::Range<u64>,
    chunk: usize,
    pin: ReadPin,
) -> Result<ByteStream> {
    let mut pieces = Vec::new();
    let mut off = 0u64;
    for f in files {
        let path = store.body_path(f);
        let len = tokio::fs::metadata(&path).await?.len();
        let (s, e) = (range.start.max(off), range.end.min(off + len));
        if s < e {
            pieces.push(Piece {
                path,
                file: None,
                at: s - off,
                left: e - s,
            });
        }
        off += len;
    }
    if off < range.end {
        return Err(Error::internal(
            "a stored body is shorter than its metadata",
        ));
    }
    let chunks = futures::stream::iter(pieces)
        .map(move |p| p.chunks(chunk))
        .flatten()
        // The closure owns `pin`: the files stay pinned exactly as long as the stream lives.
        .inspect(move |_| {
            let _held = &pin;
        });
    Ok(read_ahead(
        Box::pin(chunks),
        READ_AHEAD_BYTES.div_ceil(chunk),
    ))
}

/// One file's share of a read.
struct Piece {
    path: PathBuf,
    /// Open once the first chunk is read.
    file: Option<std::fs::File>,
    /// Next offset to read in the file.
    at: u64,
    left: u64,
}

impl Piece {
    /// The piece as chunks, each read on the blocking pool.
    fn chunks(self, chunk: usize) -> ByteStream {
        Box::pin(futures::stream::try_unfold(self, move |mut p| async move {
            if p.left == 0 {
                return Ok(None);
            }
            let n = p.left.min(chunk as u64);
            let (p, data) = tokio::task::spawn_blocking(move || {
                let data = p.read(n)?;
                Ok::<_, std::io::Error>((p, data))
            })
            .await
            .map_err(std::io::Error::other)??;
            Ok(Some((data, p)))
        }))
    }

    /// Reads the next `n` bytes (fewer only if the file shrank, which is an error).
    fn read(&mut self, n: u64) -> std::io::Result<Bytes> {
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let mut f = std::fs::File::open(&self.path)?;
                f.seek(SeekFrom::Start(self.at))?;
                self.file.insert(f)
            }
        };
        // `read_to_end` fills the spare capacity without zeroing it first.
        let mut buf = Vec::with_capacity(n as usize);
        file.take(n).read_to_end(&mut buf)?;
        if (buf.len() as u64) < n {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "a body file is shorter than when the read started",
            ));
        }
        self.at += n;
        self.left -= n;
        Ok(buf.into())
    }
}

/// Drives `s` ahead on its own task (up to `depth` chunks), so the disk reads overlap
/// decryption, and decryption overlaps socket writes. Dropping the returned stream stops the reader.
pub(crate) fn read_ahead(mut s: ByteStream, depth: usize) -> ByteStream {
    let (tx, mut rx) = tokio::sync::mpsc::channel(depth.max(1));
    tokio::spawn(async move {
        while let Some(item) = s.next().await {
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// Read-ahead depth of a decrypted stream, in chunks of [`STORED_CHUNK`]: twice the file reads'.
/// Decryption is a stage of its own between them and the socket, and a deeper buffer after it
/// raised encrypted GETs by about 5 points of plain GET in interleaved runs, where a deeper file
/// read-ahead helped neither plain nor encrypted GETs (bench/BENCHMARKS.md, "Object bodies").
/// An encrypted GET holds at most 4 + 8 chunks (about 12 MiB) ahead of its socket.
pub const DECRYPT_AHEAD: usize = 2 * READ_AHEAD_BYTES / STORED_CHUNK;

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt as _;

    async fn files(store: &Store, bodies: &[&[u8]]) -> Vec<String> {
        let mut names = Vec::new();
        for data in bodies {
            let mut w = store.writer().await.expect("writer");
            w.write(data).await.expect("write");
            names.push(w.commit().await.expect("commit"));
        }
        names
    }

    /// A store holding object `b-1`/`k` made of `bodies`, one file each.
    async fn store_with(bodies: &[&[u8]]) -> (tempfile::TempDir, Store, Vec<String>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let names = files(&store, bodies).await;
        store.create_bucket("b-1", 1).await.expect("bucket");
        put(&store, names.clone()).await;
        (dir, store, names)
    }

    async fn put(store: &Store, files: Vec<String>) {
        let obj = crate::store::Object {
            size: 0,
            etag: "e".into(),
            modified: 1,
            meta: vec![],
            envelope: None,
            files,
            tags: Vec::new(),
            storage_class: Default::default(),
            restore: None,
            acl: None,
            version_id: None,
        };
        store.put_object("b-1", "k", obj).await.expect("row");
    }

    async fn pin(store: &Store) -> ReadPin {
        let read = store.object_to_read("b-1", "k").await.expect("read");
        read.expect("the object").1
    }

    async fn chunks(
        store: &Store,
        files: &[String],
        r: std::ops::Range<u64>,
        chunk: usize,
    ) -> Vec<Bytes> {
        read_stored(store, files, r, chunk, pin(store).await)
            .await
            .expect("read")
            .try_collect()
            .await
            .expect("chunks")
    }

    #[tokio::test]
    async fn ranges_across_files_come_in_whole_chunks() {
        let a: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..777u32).map(|i| (i * 7) as u8).collect();
        let (_d, store, files) = store_with(&[&a, &b]).await;
        let all = [a.clone(), b.clone()].concat();
        for (r, chunk) in [
            (0..1777, 100),
            (5..1700, 64),
            (1000..1777, 1000),
            (999..1001, 1),
            (0..1777, 4096),
        ] {
            let got = chunks(&store, &files, r.clone(), chunk).await;
            assert_eq!(
                got.concat(),
                &all[r.start as usize..r.end as usize],
                "{r:?} by {chunk}"
            );
            assert!(got.iter().all(|c| !c.is_empty() && c.len() <= chunk));
            // Within a file, only the last chunk is short.
            let first_len = (1000u64.min(r.end) - r.start.min(1000)) as usize;
            if first_len > chunk {
                assert_eq!(got[0].len(), chunk);
            }
        }
    }

    #[tokio::test]
    async fn a_range_past_the_stored_bytes_is_an_internal_error() {
        let (_d, store, files) = store_with(&[b"abc"]).await;
        assert!(matches!(
            read_stored(&store, &files, 0..4, 8, pin(&store).await).await,
            Err(Error::Internal(_))
        ));
    }

    #[tokio::test]
    async fn an_overwrite_during_a_read_waits_for_the_reader() {
        let (a, b) = (vec![1u8; 3000], vec![2u8; 3000]);
        let (_d, store, old) = store_with(&[&a, &b]).await;
        let read = store.object_to_read("b-1", "k").await.expect("read");
        let (obj, pin) = read.expect("the object");
        // Overwritten, then deleted, before the read has opened any file.
        let new = files(&store, &[b"new"]).await;
        put(&store, new.clone()).await;
        store.delete_object("b-1", "k").await.expect("delete");
        assert!(
            old.iter().all(|f| store.body_path(f).exists()),
            "removed under a reader"
        );
        assert!(
            !store.body_path(&new[0]).exists(),
            "an unread file waits for nobody"
        );
        let got: Vec<Bytes> = read_stored(&store, &obj.files, 0..6000, 1000, pin)
            .await
            .expect("stream")
            .try_collect()
            .await
            .expect("the whole old body");
        assert_eq!(got.concat(), [a, b].concat());
        // The reader has let go: the replaced files go now (the read-ahead task ends just after).
        for _ in 0..1000 {
            if old.iter().all(|f| !store.body_path(f).exists()) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the replaced files outlived their last reader by 10 s");
    }

    #[tokio::test]
    async fn a_file_truncated_during_the_read_fails_the_read() {
        let data = vec![9u8; 10_000];
        let (_d, store, files) = store_with(&[&data]).await;
        let path = store.body_path(&files[0]);
        let mut p = Piece {
            path: path.clone(),
            file: None,
            at: 0,
            left: 10_000,
        };
        assert_eq!(p.read(4_000).expect("first read").len(), 4_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(4_500)
            .expect("truncate");
        let err = p.read(1_000).expect_err("only 500 bytes are left");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
