//! The persistent reply cache (architecture.md rule 7): a redb file mapping a hash of
//! everything that shapes a judge request to the parsed judgement. Only successful parses are
//! stored, so a failure is always asked again.

use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, ReadableDatabase, TableDefinition};
use sha2::{Digest, Sha256};

use crate::ScoreError;

/// File name of the cache inside the cache directory.
pub const CACHE_FILE: &str = "lvlm-replies.redb";

/// Key: SHA-256 (see [`CacheKey`]); value: the judgement's JSON (`AxisScore` or `Reward`).
const REPLIES: TableDefinition<&[u8; 32], &str> = TableDefinition::new("replies");

/// The identity of one judge request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// Hashes the parts in order, each length-prefixed so that no two part lists collide by
    /// concatenation (`"ab","c"` vs `"a","bc"`).
    pub fn new(parts: &[&[u8]]) -> CacheKey {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        CacheKey(h.finalize().into())
    }
}

/// An open cache file. redb allows one open handle per file; a second one (another process,
/// or another scorer in this process) gets a clear error instead of waiting.
pub struct ReplyCache {
    db: Database,
    path: PathBuf,
}

impl ReplyCache {
    /// Opens (creating if needed) `dir/lvlm-replies.redb`.
    pub fn open(dir: &Path) -> Result<ReplyCache, ScoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ScoreError::Cache(format!("cannot create cache directory {}: {e}", dir.display())))?;
        let path = dir.join(CACHE_FILE);
        let db = Database::create(&path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => ScoreError::Cache(format!(
                "{} is in use by another scorer or process; use another cache directory or --no-cache",
                path.display()
            )),
            e => ScoreError::Cache(format!("cannot open {}: {e}", path.display())),
        })?;
        Ok(ReplyCache { db, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, key: &CacheKey) -> Result<Option<String>, ScoreError> {
        let err = |e: &dyn std::fmt::Display| ScoreError::Cache(format!("reading {}: {e}", self.path.display()));
        let txn = self.db.begin_read().map_err(|e| err(&e))?;
        let table = match txn.open_table(REPLIES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err(&e)),
        };
        Ok(table.get(&key.0).map_err(|e| err(&e))?.map(|v| v.value().to_string()))
    }

    /// Stores a value durably (the commit is flushed before this returns).
    pub fn put(&self, key: &CacheKey, value: &str) -> Result<(), ScoreError> {
        let err = |e: &dyn std::fmt::Display| ScoreError::Cache(format!("writing {}: {e}", self.path.display()));
        let txn = self.db.begin_write().map_err(|e| err(&e))?;
        {
            let mut table = txn.open_table(REPLIES).map_err(|e| err(&e))?;
            table.insert(&key.0, value).map_err(|e| err(&e))?;
        }
        txn.commit().map_err(|e| err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_across_reopen_and_keys_are_unambiguous() {
        let dir = tempfile::tempdir().unwrap();
        let k = CacheKey::new(&[b"ab", b"c"]);
        assert_ne!(k, CacheKey::new(&[b"a", b"bc"]));
        {
            let c = ReplyCache::open(dir.path()).unwrap();
            assert_eq!(c.get(&k).unwrap(), None);
            c.put(&k, "{\"x\":1}").unwrap();
        }
        let c = ReplyCache::open(dir.path()).unwrap();
        assert_eq!(c.get(&k).unwrap().as_deref(), Some("{\"x\":1}"));
        assert!(matches!(ReplyCache::open(dir.path()), Err(ScoreError::Cache(m)) if m.contains("in use")));
    }
}
