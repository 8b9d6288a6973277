//! The STUN2 responder (sans-IO): opens a request, seals the response, reports the check.

use super::canonical_addr;
use newmedia_proto::stun2::{
    SenderSecret, Stun2Error, Stun2Keys, Stun2Request, Stun2Response, TransactionId,
};
use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

/// A STUN2 request with a sender secret, received and answered by the node. Snowflake consent
/// reports these to the controller as proof that the request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedStunCheck {
    /// The request's source address, in canonical form (IPv4 peers as plain IPv4, see
    /// [`canonical_addr`]); also the observed address of the response.
    pub from: SocketAddr,
    /// The local address the request arrived on, when the socket reports it.
    pub local_ip: Option<IpAddr>,
    /// The request's transaction ID.
    pub transaction_id: TransactionId,
    /// The secret the sender put in the request.
    pub sender_secret: SenderSecret,
    /// `true` if the request opened under the node's configured secret, `false` if only under
    /// the public (empty-secret) keys, which anyone can forge.
    pub authenticated: bool,
}

/// Receives [`ReceivedStunCheck`]s. Called on a quinn endpoint's receive path, so it must not
/// block; hand the check on (for example through a bounded channel) and return.
///
/// Implemented for `tokio::sync::mpsc::Sender<ReceivedStunCheck>` with `try_send`.
pub trait StunObserver: Send + Sync + fmt::Debug + 'static {
    /// Takes one check. Returns `false` if it had to drop it (counted in
    /// [`TransportStatsSnapshot::stun_checks_observer_dropped`]).
    ///
    /// [`TransportStatsSnapshot::stun_checks_observer_dropped`]:
    ///     super::TransportStatsSnapshot::stun_checks_observer_dropped
    fn observe(&self, check: ReceivedStunCheck) -> bool;
}

impl StunObserver for tokio::sync::mpsc::Sender<ReceivedStunCheck> {
    fn observe(&self, check: ReceivedStunCheck) -> bool {
        self.try_send(check).is_ok()
    }
}

/// Receives the STUN2 responses that reach the node's sockets (answers to the requests the
/// node itself sent, such as Snowflake downlink checks). Called on a quinn endpoint's
/// receive path: it must not block.
pub trait StunResponseObserver: Send + Sync + fmt::Debug + 'static {
    /// Takes one response datagram from `from`. Returns `true` if it belonged to a request
    /// of the observer's (then it is not counted as dropped).
    fn observe_response(&self, datagram: &[u8], from: SocketAddr) -> bool;
}

/// Which keys the responder answers under, and who hears about checks. `Default` answers
/// nothing: no secret, not a public server, no observer.
#[derive(Clone, Default)]
pub struct Stun2ResponderConfig {
    secret: Option<Vec<u8>>,
    public_server: bool,
    observer: Option<Arc<dyn StunObserver>>,
    response_observer: Option<Arc<dyn StunResponseObserver>>,
}

impl fmt::Debug for Stun2ResponderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stun2ResponderConfig")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("public_server", &self.public_server)
            .field("observer", &self.observer)
            .field("response_observer", &self.response_observer)
            .finish()
    }
}

impl Stun2ResponderConfig {
    /// The node's STUN2 secret (the `stunSecret` clients were given, as bytes): requests sealed
    /// under it are answered under it. Default: none.
    pub fn secret(&mut self, secret: &[u8]) -> &mut Self {
        self.secret = Some(secret.to_vec());
        self
    }

    /// Also act as a public STUN2 server: answer requests sealed under the empty secret.
    /// Default: `false`. A public server is an open reflector (a response is at most 1.6 times
    /// the size of a request); enable it only where that is wanted.
    pub fn public_server(&mut self, enabled: bool) -> &mut Self {
        self.public_server = enabled;
        self
    }

    /// Who receives the requests that carry a sender secret. Default: nobody.
    pub fn observer(&mut self, observer: Arc<dyn StunObserver>) -> &mut Self {
        self.observer = Some(observer);
        self
    }

    /// Who receives STUN2 responses (to the node's own requests). Default: nobody; they are
    /// dropped.
    pub fn response_observer(&mut self, observer: Arc<dyn StunResponseObserver>) -> &mut Self {
        self.response_observer = Some(observer);
        self
    }
}

/// What became of an answered request's sender secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckReport {
    /// The request had no sender secret, or there is no observer.
    NotReported,
    /// The observer took the check.
    Observed,
    /// The observer refused it (full or closed channel).
    ObserverDropped,
}

/// Answers STUN2 requests statelessly (PROTOCOL.md §7 "Processing"). Keys are derived once, at
/// construction. Holds no socket: [`handle_request`](Self::handle_request) writes the response
/// into a buffer and the caller sends it.
#[derive(Debug)]
pub struct Stun2Responder {
    secret: Option<Stun2Keys>,
    public: Option<Stun2Keys>,
    observer: Option<Arc<dyn StunObserver>>,
    response_observer: Option<Arc<dyn StunResponseObserver>>,
}

impl Stun2Responder {
    /// A responder for `config`.
    pub fn new(config: &Stun2ResponderConfig) -> Self {
        Self {
            secret: config.secret.as_deref().map(Stun2Keys::new),
            public: config.public_server.then(Stun2Keys::public),
            observer: config.observer.clone(),
            response_observer: config.response_observer.clone(),
        }
    }

    /// Hands a STUN2 response to the response observer; `true` if it took it.
    pub fn handle_response(&self, datagram: &[u8], from: SocketAddr) -> bool {
        self.response_observer
            .as_ref()
            .is_some_and(|o| o.observe_response(datagram, canonical_addr(from)))
    }

    /// Opens `datagram` (a request from `from`, received on `local_ip`) under the configured
    /// secret, then under the public keys if this is a public server. On success, `response`
    /// is replaced by the sealed response (same keys, same transaction ID, observed address
    /// `from` in canonical form) and a request's sender secret is handed to the observer.
    ///
    /// On error nothing must be sent: STUN2 servers drop bad requests silently. The error is
    /// the one from the configured secret's keys when both were tried.
    pub fn handle_request(
        &self,
        datagram: &[u8],
        from: SocketAddr,
        local_ip: Option<IpAddr>,
        response: &mut Vec<u8>,
    ) -> Result<CheckReport, Stun2Error> {
        let (request, keys, authenticated) = self.open(datagram)?;
        let from = canonical_addr(from);
        response.clear();
        Stun2Response {
            transaction_id: request.transaction_id,
            observed: from,
        }
        .encode(keys, response);
        let (Some(sender_secret), Some(observer)) = (request.sender_secret, &self.observer) else {
            return Ok(CheckReport::NotReported);
        };
        let check = ReceivedStunCheck {
            from,
            local_ip,
            transaction_id: request.transaction_id,
            sender_secret,
            authenticated,
        };
        Ok(if observer.observe(check) {
            CheckReport::Observed
        } else {
            CheckReport::ObserverDropped
        })
    }

    /// The request and the keys (and whether they are the secret's) it opened under.
    fn open(&self, datagram: &[u8]) -> Result<(Stun2Request, &Stun2Keys, bool), Stun2Error> {
        let mut first_error = None;
        if let Some(keys) = &self.secret {
            match Stun2Request::decode(keys, datagram) {
                Ok(request) => return Ok((request, keys, true)),
                Err(e) => first_error = Some(e),
            }
        }
        if let Some(keys) = &self.public {
            match Stun2Request::decode(keys, datagram) {
                Ok(request) => return Ok((request, keys, false)),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        // No keys configured: nothing can open.
        Err(first_error.unwrap_or(Stun2Error::Authentication))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<ReceivedStunCheck>>);

    impl StunObserver for Recorder {
        fn observe(&self, check: ReceivedStunCheck) -> bool {
            self.0.lock().unwrap().push(check);
            true
        }
    }

    fn request(secret: &[u8], sender_secret: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        Stun2Request {
            transaction_id: TransactionId([9; 12]),
            sender_secret: sender_secret.map(|s| SenderSecret::new(s).unwrap()),
        }
        .encode(&Stun2Keys::new(secret), &mut out);
        out
    }

    const FROM: &str = "[::ffff:198.51.100.4]:6000";

    #[test]
    fn answers_under_secret_and_reports_check() {
        let recorder = Arc::new(Recorder::default());
        let mut config = Stun2ResponderConfig::default();
        config.secret(b"node").observer(recorder.clone());
        let responder = Stun2Responder::new(&config);
        let mut out = vec![1, 2, 3];
        let outcome = responder.handle_request(
            &request(b"node", Some(b"consent")),
            FROM.parse().unwrap(),
            None,
            &mut out,
        );
        assert_eq!(outcome, Ok(CheckReport::Observed));
        let response = Stun2Response::decode(&Stun2Keys::new(b"node"), &out).unwrap();
        assert_eq!(response.transaction_id, TransactionId([9; 12]));
        assert_eq!(response.observed, "198.51.100.4:6000".parse().unwrap());
        let checks = recorder.0.lock().unwrap();
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].sender_secret.as_bytes(), b"consent");
        assert_eq!(checks[0].from, "198.51.100.4:6000".parse().unwrap());
        assert!(checks[0].authenticated);
    }

    #[test]
    fn public_keys_only_when_configured() {
        let from = FROM.parse().unwrap();
        let mut out = Vec::new();
        let mut config = Stun2ResponderConfig::default();
        config.secret(b"node");
        let private = Stun2Responder::new(&config);
        assert_eq!(
            private.handle_request(&request(b"", None), from, None, &mut out),
            Err(Stun2Error::Authentication)
        );
        config.public_server(true);
        let public = Stun2Responder::new(&config);
        assert_eq!(
            public.handle_request(&request(b"", None), from, None, &mut out),
            Ok(CheckReport::NotReported)
        );
        assert!(Stun2Response::decode(&Stun2Keys::public(), &out).is_ok());
        // Still answers its own secret, under its own keys.
        public
            .handle_request(&request(b"node", None), from, None, &mut out)
            .unwrap();
        assert!(Stun2Response::decode(&Stun2Keys::new(b"node"), &out).is_ok());
    }

    #[test]
    fn default_answers_nothing_and_full_channel_is_reported() {
        let from = FROM.parse().unwrap();
        let mut out = Vec::new();
        let none = Stun2Responder::new(&Stun2ResponderConfig::default());
        assert!(
            none.handle_request(&request(b"", None), from, None, &mut out)
                .is_err()
        );
        assert!(none.handle_request(&[0x0E], from, None, &mut out).is_err());

        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut config = Stun2ResponderConfig::default();
        config.public_server(true).observer(Arc::new(tx));
        let responder = Stun2Responder::new(&config);
        let datagram = request(b"", Some(b"s"));
        let outcomes: Vec<_> = (0..2)
            .map(|_| responder.handle_request(&datagram, from, None, &mut out))
            .collect();
        assert_eq!(
            outcomes,
            [Ok(CheckReport::Observed), Ok(CheckReport::ObserverDropped)]
        );
        drop(rx);
        assert_eq!(
            responder.handle_request(&datagram, from, None, &mut out),
            Ok(CheckReport::ObserverDropped)
        );
        assert!(format!("{config:?}").contains("public_server: true"));
    }
}
