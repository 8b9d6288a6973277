//! Accept loops: one per quinn endpoint, each spawning a session per connection.

use super::node::Node;
use std::sync::Arc;
use tracing::debug;

/// Accepts connections on `endpoint` until it is closed. New connections arriving while the
/// node drains are refused at once (the client's Hello gets a "draining" error).
pub async fn serve(node: Arc<Node>, endpoint: quinn::Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        if node.is_draining() {
            debug!(remote = %incoming.remote_address(), "refusing: draining");
            incoming.refuse();
            continue;
        }
        tokio::spawn(super::session::run(node.clone(), incoming));
    }
}
