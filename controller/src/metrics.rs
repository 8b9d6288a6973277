//! Prometheus metrics of one controller (`GET /metrics`).

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// The content type of the text exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The controller's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `newmedia_controller_ws_connections`: WebSockets open here.
    pub ws_connections: IntGauge,
    /// `newmedia_controller_conferences_created_total`.
    pub conferences_created: IntCounter,
    /// `newmedia_controller_proposals_sent_total`.
    pub proposals_sent: IntCounter,
    /// `newmedia_controller_proposal_results_total{result="accepted|rejected"}`.
    pub proposal_results: IntCounterVec,
    /// `newmedia_controller_checks_total{direction="uplink|downlink"}`: checks ordered.
    pub checks: IntCounterVec,
    /// `newmedia_controller_check_outcomes_total{outcome="success|failure"}`.
    pub check_outcomes: IntCounterVec,
    /// `newmedia_controller_consents_total`: consents sent to clients.
    pub consents: IntCounter,
    /// `newmedia_controller_node_deaths_total`.
    pub node_deaths: IntCounter,
    /// `newmedia_controller_replacements_total`: conferences placed again.
    pub replacements: IntCounter,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let name = |n: &str, help: &str| Opts::new(format!("newmedia_controller_{n}"), help);
        let ws_connections = IntGauge::with_opts(name("ws_connections", "open WebSockets"))?;
        let conferences_created =
            IntCounter::with_opts(name("conferences_created_total", "conferences created"))?;
        let proposals_sent = IntCounter::with_opts(name("proposals_sent_total", "proposals"))?;
        let proposal_results = IntCounterVec::new(
            name("proposal_results_total", "proposal answers"),
            &["result"],
        )?;
        let checks = IntCounterVec::new(
            name("checks_total", "Snowflake checks ordered"),
            &["direction"],
        )?;
        let check_outcomes = IntCounterVec::new(
            name(
                "check_outcomes_total",
                "Snowflake paths that succeeded or failed",
            ),
            &["outcome"],
        )?;
        let consents = IntCounter::with_opts(name("consents_total", "consents sent"))?;
        let node_deaths = IntCounter::with_opts(name("node_deaths_total", "nodes declared dead"))?;
        let replacements =
            IntCounter::with_opts(name("replacements_total", "conferences placed again"))?;
        registry.register(Box::new(ws_connections.clone()))?;
        registry.register(Box::new(conferences_created.clone()))?;
        registry.register(Box::new(proposals_sent.clone()))?;
        registry.register(Box::new(proposal_results.clone()))?;
        registry.register(Box::new(checks.clone()))?;
        registry.register(Box::new(check_outcomes.clone()))?;
        registry.register(Box::new(consents.clone()))?;
        registry.register(Box::new(node_deaths.clone()))?;
        registry.register(Box::new(replacements.clone()))?;
        Ok(Self {
            registry,
            ws_connections,
            conferences_created,
            proposals_sent,
            proposal_results,
            checks,
            check_outcomes,
            consents,
            node_deaths,
            replacements,
        })
    }

    /// The text exposition.
    pub fn encode(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
