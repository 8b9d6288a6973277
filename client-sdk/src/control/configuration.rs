//! Media configuration (draft §6.3/§6.4): the proposal currently in force.

use super::{
    capabilities::Capabilities,
    proposal::{AppliedProposal, KeyProvider, ProposalRejection},
};
use newmedia_proto::signaling::Proposal;

/// The endpoint's configuration: the last proposal accepted, if any.
///
/// [`MediaConfiguration::apply`] only checks and returns the result;
/// [`MediaConfiguration::accept`] also makes it the configuration in force. Either way a
/// rejected proposal changes nothing.
#[derive(Debug, Clone, Default)]
pub struct MediaConfiguration {
    current: Option<AppliedProposal>,
}

impl MediaConfiguration {
    /// No proposal applied yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The proposal in force, if one was accepted.
    pub fn current(&self) -> Option<&AppliedProposal> {
        self.current.as_ref()
    }

    /// Checks `proposal` against `capabilities` and resolves its secrets through `secrets`.
    /// All or nothing: either every candidate and stream is usable and the complete
    /// [`AppliedProposal`] is returned, or the first fault is returned as a
    /// [`ProposalRejection`] naming it (`sendStreams[1]: codec "vp8" not supported by
    /// source 1`).
    ///
    /// The checks, in this order (the proposal is first [validated](Proposal::validate)):
    /// - every `sendTo` candidate has a `tlsFingerprintSHA256` that is a real SHA-256
    ///   fingerprint (the far side's certificate is always pinned);
    /// - every send stream's `sourceID` is one of our sources and every receive stream's
    ///   `sinkID` one of our sinks, and that source or sink has the codec;
    /// - the AEAD is one of [`Capabilities::aeads`];
    /// - `maxBitrate`, `width`, `height`, `frameRate` and width × height × frameRate are
    ///   within the codec's advertised maxima; `width`/`height`/`frameRate` only for video
    ///   codecs, `packetTime` only for audio codecs;
    /// - a `secretRef` (with an AEAD other than `NULL`) is known to `secrets`.
    pub fn apply(
        &self,
        proposal: &Proposal,
        capabilities: &Capabilities,
        secrets: &dyn KeyProvider,
    ) -> Result<AppliedProposal, ProposalRejection> {
        super::proposal::apply(proposal, capabilities, secrets)
    }

    /// [`apply`](Self::apply), and on success make the result the configuration in force
    /// (replacing the previous one). On rejection the previous configuration stays.
    pub fn accept(
        &mut self,
        proposal: &Proposal,
        capabilities: &Capabilities,
        secrets: &dyn KeyProvider,
    ) -> Result<&AppliedProposal, ProposalRejection> {
        let applied = self.apply(proposal, capabilities, secrets)?;
        Ok(self.current.insert(applied))
    }
}
