//! Making sled writes durable from async code.
//!
//! sled 0.34's `flush_async` can deadlock when several flushes are polled at once (sled
//! issues #1241 and #1308, fixed on its main branch but never released); a relay under load
//! does exactly that (executor, swaps, notary). So every flush here is sled's synchronous
//! `flush`, run on tokio's blocking pool.

use anyhow::{Context, Result};

/// Flushes everything written to `tree` (a `sled::Db` derefs to its default tree).
pub async fn flush(tree: &sled::Tree) -> Result<()> {
    let tree = tree.clone();
    tokio::task::spawn_blocking(move || tree.flush())
        .await
        .context("the flush task stopped")?
        .context("relay database flush failed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: under load a notary member hung for good in `flush_async` (five of them
    // awaiting at once); concurrent flushes must all complete.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_all_complete() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.insert(i.to_be_bytes(), vec![0u8; 64]).unwrap();
                    flush(&db).await.unwrap();
                })
            })
            .collect();
        let all = futures::future::join_all(tasks);
        tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("every flush completes");
        assert_eq!(db.len(), 200);
    }
}
