//! The Redis store: every record is a JSON string under `<prefix>:<kind>:<id>`, with a set
//! per kind to list them; history is a hash per client network; paths and their match keys
//! expire.

use super::{History, PairOutcomes, Store, StoreError};
use crate::model::{ClientRecord, ConferenceRecord, NodeRecord, PathRecord};
use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Compare-and-delete: releases a lock only for its owner.
const UNLOCK: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// A [`Store`] on Redis (one multiplexed connection, which redis-rs reconnects).
#[derive(Clone)]
pub struct RedisStore {
    conn: MultiplexedConnection,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `client`; every key starts with `prefix` and `:`.
    pub async fn connect(client: &redis::Client, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            conn: client.get_multiplexed_async_connection().await?,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    fn set_key(&self, kind: &str) -> String {
        format!("{}:{kind}s", self.prefix)
    }

    async fn put_json<T: Serialize + Sync>(
        &self,
        kind: &str,
        id: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(|source| StoreError::Corrupt {
            key: self.key(kind, id),
            source,
        })?;
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .set(self.key(kind, id), text)
            .ignore()
            .sadd(self.set_key(kind), id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        let key = self.key(kind, id);
        let mut conn = self.conn.clone();
        let text: Option<String> = conn.get(&key).await?;
        text.map(|t| serde_json::from_str(&t).map_err(|source| StoreError::Corrupt { key, source }))
            .transpose()
    }

    async fn list_json<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, StoreError> {
        let mut conn = self.conn.clone();
        let mut ids: Vec<String> = conn.smembers(self.set_key(kind)).await?;
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(v) = self.get_json(kind, &id).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn delete_json(&self, kind: &str, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .del(self.key(kind, id))
            .ignore()
            .srem(self.set_key(kind), id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl Store for RedisStore {
    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.put_json("client", &client.client_id, client).await
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.get_json("client", client_id).await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let mut v: Vec<ClientRecord> = self.list_json("client").await?;
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(v)
    }

    async fn set_presence(
        &self,
        client_id: &str,
        controller: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key("presence", client_id);
        match controller {
            Some(c) => conn.set::<_, _, ()>(key, c).await?,
            None => conn.del::<_, ()>(key).await?,
        }
        Ok(())
    }

    async fn presence(&self, client_id: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.get(self.key("presence", client_id)).await?)
    }

    async fn put_conference(&self, conference: &ConferenceRecord) -> Result<(), StoreError> {
        self.put_json(
            "conference",
            &conference.conference_id.to_string(),
            conference,
        )
        .await
    }

    async fn get_conference(&self, id: u64) -> Result<Option<ConferenceRecord>, StoreError> {
        self.get_json("conference", &id.to_string()).await
    }

    async fn list_conferences(&self) -> Result<Vec<ConferenceRecord>, StoreError> {
        let mut v: Vec<ConferenceRecord> = self.list_json("conference").await?;
        v.sort_by_key(|c| c.conference_id);
        Ok(v)
    }

    async fn delete_conference(&self, id: u64) -> Result<(), StoreError> {
        self.delete_json("conference", &id.to_string()).await
    }

    async fn put_node(&self, node: &NodeRecord) -> Result<(), StoreError> {
        self.put_json("node", &node.registration.node_id, node)
            .await
    }

    async fn get_node(&self, node_id: &str) -> Result<Option<NodeRecord>, StoreError> {
        self.get_json("node", node_id).await
    }

    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.list_json("node").await
    }

    async fn record_outcome(
        &self,
        network: &str,
        pair_type: &str,
        success: bool,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key("history", network);
        let (count, last) = if success {
            ("ok", "last_ok_ms")
        } else {
            ("fail", "last_fail_ms")
        };
        redis::pipe()
            .atomic()
            .hincr(&key, format!("{pair_type}|{count}"), 1)
            .ignore()
            .hset(&key, format!("{pair_type}|{last}"), now_ms)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn history(&self, network: &str) -> Result<History, StoreError> {
        let mut conn = self.conn.clone();
        let fields: Vec<(String, u64)> = conn.hgetall(self.key("history", network)).await?;
        let mut history = History::new();
        for (field, value) in fields {
            let Some((pair, what)) = field.rsplit_once('|') else {
                continue;
            };
            let e: &mut PairOutcomes = history.entry(pair.to_owned()).or_default();
            match what {
                "ok" => e.successes = value,
                "fail" => e.failures = value,
                "last_ok_ms" => e.last_success_ms = value,
                "last_fail_ms" => e.last_failure_ms = value,
                _ => {}
            }
        }
        Ok(history)
    }

    async fn put_path(
        &self,
        path: &PathRecord,
        match_keys: &[String],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.key("path", &path.path_id);
        let text = serde_json::to_string(path).map_err(|source| StoreError::Corrupt {
            key: key.clone(),
            source,
        })?;
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(&key)
            .arg(text)
            .arg("PX")
            .arg(millis(ttl))
            .ignore();
        for m in match_keys {
            pipe.cmd("SET")
                .arg(self.key("pathkey", m))
                .arg(&path.path_id)
                .arg("PX")
                .arg(millis(ttl))
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn get_path(&self, path_id: &str) -> Result<Option<PathRecord>, StoreError> {
        self.get_json("path", path_id).await
    }

    async fn find_path(&self, match_key: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.get(self.key("pathkey", match_key)).await?)
    }

    async fn try_lock(&self, name: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key("lock", name))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }

    async fn unlock(&self, name: &str, token: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("EVAL")
            .arg(UNLOCK)
            .arg(1)
            .arg(self.key("lock", name))
            .arg(token)
            .query_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    async fn get_or_init(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key("value", name);
        let _: bool = conn.set_nx(&key, value).await?;
        let stored: Option<String> = conn.get(&key).await?;
        Ok(stored.unwrap_or_else(|| value.to_owned()))
    }
}
