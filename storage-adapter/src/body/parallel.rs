//! Whole in-memory bodies sealed or opened on several threads: the body is cut into runs of
//! consecutive segments ([`crate::stream::seal_runs`] / [`crate::stream::open_runs`], which fix
//! every nonce), one run per thread, each sealed or opened out of place.

use crate::crypto::Key32;
use crate::error::{Error, Result};
use crate::stream::{self, OpenRun, stored_size};

/// Seals a whole in-memory body on `threads` threads (segments are independent).
pub(crate) fn seal_parallel(key: &Key32, plain: &[u8], threads: usize) -> Result<Vec<u8>> {
    let total = usize::try_from(stored_size(plain.len() as u64)).map_err(|_| Error::TooLarge)?;
    let mut out = vec![0u8; total];
    seal_parallel_into(key, plain, &mut out, threads)?;
    Ok(out)
}

/// Seals a whole in-memory body into `out` (exactly its stored size) on `threads` threads: one
/// run of consecutive segments per thread, each sealed out of place straight from the plaintext.
pub(crate) fn seal_parallel_into(
    key: &Key32,
    plain: &[u8],
    out: &mut [u8],
    threads: usize,
) -> Result<()> {
    if out.len() as u64 != stored_size(plain.len() as u64) {
        return Err(Error::Internal(
            "the output buffer is not the stored size".into(),
        ));
    }
    // Checks the segment limit before any work.
    let runs = stream::seal_runs(key, plain.len() as u64, threads)?;
    std::thread::scope(|scope| {
        let mut rest: &mut [u8] = out;
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| {
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(run.stored_len());
                rest = tail;
                scope.spawn(move || run.seal_to(plain, mine))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| Error::Internal("a sealing thread panicked".into()))?
        })
    })
}

/// Opens a whole in-memory single-part body on `threads` threads: one run of consecutive segments
/// per thread, each opened out of place straight into the output. Nothing is returned unless every
/// segment verifies.
pub(crate) fn open_parallel(key: &Key32, stored: &[u8], threads: usize) -> Result<Vec<u8>> {
    let runs = stream::open_runs(key, stored.len() as u64, threads)?;
    let mut out = vec![0u8; runs.iter().map(OpenRun::plain_len).sum()];
    let ok = std::thread::scope(|scope| {
        let mut rest: &mut [u8] = &mut out;
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| {
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(run.plain_len());
                rest = tail;
                scope.spawn(move || run.open_to(stored, mine).is_ok())
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    if !ok {
        zeroize::Zeroize::zeroize(&mut out);
        return Err(Error::Decrypt);
    }
    Ok(out)
}
