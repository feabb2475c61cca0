//! Meta: small node-level facts (schema version, first-run time, ...), as raw bytes under
//! UTF-8 keys in the `meta` tree. Callers choose their own encoding for values.

use crate::batch::TreeName;
use crate::error::Result;
use crate::store::Store;

/// Handle to the node-level key/value facts. Cheap to clone; get one with [`Store::meta`].
#[derive(Debug, Clone)]
pub struct Meta {
    store: Store,
}

impl Meta {
    pub(crate) fn new(store: Store) -> Self {
        Meta { store }
    }

    /// The value stored under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .store
            .tree(TreeName::Meta)
            .get(key)?
            .map(|value| value.to_vec()))
    }

    /// Stores `value` under `key`, replacing any previous value.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn set(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<()> {
        self.store
            .batch()
            .put(TreeName::Meta, key, value)
            .commit()
            .await
    }

    /// Removes `key` (a missing key is not an error).
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn remove(&self, key: &str) -> Result<()> {
        self.store
            .batch()
            .remove(TreeName::Meta, key)
            .commit()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn set_get_remove() {
        let store = Store::open_temporary().unwrap();
        let meta = store.meta();
        assert_eq!(meta.get("schema").unwrap(), None);
        meta.set("schema", "1").await.unwrap();
        meta.set("created_ms", 42u64.to_be_bytes()).await.unwrap();
        assert_eq!(meta.get("schema").unwrap(), Some(b"1".to_vec()));
        meta.set("schema", "2").await.unwrap();
        assert_eq!(meta.get("schema").unwrap(), Some(b"2".to_vec()));
        assert_eq!(
            meta.get("created_ms").unwrap(),
            Some(42u64.to_be_bytes().to_vec())
        );
        meta.remove("schema").await.unwrap();
        assert_eq!(meta.get("schema").unwrap(), None);
        meta.remove("schema").await.unwrap();
    }
}
