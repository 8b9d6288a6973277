//! In-process queues in front of the store's named locks.
//!
//! The store lock (memory or Redis) is what serializes controllers that share a store, and
//! a busy one can only be polled. Within one controller, the waiters of a name queue on a
//! `tokio` mutex instead, so the next one runs the moment the holder finishes rather than at
//! its next poll (a join, the proposal answers and the check reports of one conference all
//! take its lock within a few milliseconds of each other).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

/// The named in-process locks; a name's entry lives while someone holds or waits for it.
#[derive(Debug, Default)]
pub(crate) struct LocalLocks {
    names: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds one name; dropping it wakes the next waiter.
#[derive(Debug)]
pub(crate) struct LocalGuard<'a> {
    locks: &'a LocalLocks,
    name: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl LocalLocks {
    fn names(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        // The map is only ever updated whole under this lock; a panic elsewhere leaves it valid.
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for `name`, in arrival order.
    pub(crate) async fn acquire(&self, name: &str) -> LocalGuard<'_> {
        let mutex = self.names().entry(name.to_owned()).or_default().clone();
        LocalGuard {
            locks: self,
            name: name.to_owned(),
            guard: Some(mutex.lock_owned().await),
        }
    }

    /// How many names are held or waited for.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.names().len()
    }
}

impl Drop for LocalGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut names = self.locks.names();
        // Only the map's reference left: no holder, no waiter (waiters clone it under this
        // map lock before they wait), so the entry can go.
        if names
            .get(&self.name)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            names.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_run_in_turn_and_entries_go_away() {
        let locks = Arc::new(LocalLocks::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = locks.acquire("conference:1").await;
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (locks, order) = (locks.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.acquire("conference:1").await;
                order.lock().unwrap().push(i);
            }));
            // Let each waiter queue before the next one starts.
            tokio::task::yield_now().await;
        }
        let other = locks.acquire("conference:2").await;
        assert_eq!(locks.len(), 2);
        assert!(order.lock().unwrap().is_empty(), "waiters wait");
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        drop(other);
        assert_eq!(locks.len(), 0);
    }
}
