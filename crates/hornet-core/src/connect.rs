//! CONNECT and DISCONNECT: admission, client identifiers, keep-alive
//! negotiation, session takeover and resumption.
//!
//! Order of a CONNECT, as the specs give it, one step each:
//! `validate_connect` (redirection, the will's QoS and retain, the client
//! identifier [MQTT-3.1.3-8], [MQTT-3.1.3-9], keep-alive), then
//! `authenticate_connect` (enhanced authentication, or a password check
//! the shell runs, during which the validated CONNECT waits in the
//! connection's state, see `lifecycle`), then `complete_connect`:
//! `admit_connect` (the verdict, the anonymous policy, the will's ACL,
//! flapping), `take_over` a live connection with the same id
//! ([MQTT-3.1.4-3]: MQTT 5 gets DISCONNECT 0x8E), `attach_session` (clean
//! start or resume, [MQTT-3.2.2-2] session present), `accept_connection`,
//! `connack`, and finally resend unacknowledged messages with DUP set
//! ([MQTT-4.4.0-1]) and drain the queue.

use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;
use hornet_codec::{ConnAck, Connect, Disconnect, Packet, Property, Protocol, ReasonCode};

use crate::auth::AuthState;
use crate::authorize::Access;
use crate::broker::{Broker, ConnId};
pub(crate) use crate::lifecycle::Admission;
use crate::lifecycle::Ready;
use crate::session::{Session, SessionKey, NEVER_EXPIRES};
use crate::settings::Anonymous;
use crate::violation::PeerError;

/// How the client proved who it is, for [`Broker::complete_connect`].
pub(crate) enum Credentials {
    /// Nothing was checked: the anonymous policy decides.
    Unchecked,
    /// A verified TLS client certificate named the user.
    Certificate,
    /// The shell's verdict on the CONNECT password.
    Password(bool),
    /// The enhanced authentication exchange succeeded; `data` goes out
    /// with CONNACK.
    Enhanced {
        auth: AuthState,
        data: Option<Bytes>,
    },
}

/// The session a CONNECT attached to (see [`Broker::attach_session`]).
struct Attached {
    key: SessionKey,
    present: bool,
    /// The expiry in force, and what the client asked for.
    expiry: u32,
    asked: u32,
}

impl Broker {
    /// A CONNECT on a fresh connection: validate, authenticate, then
    /// complete it ([`Broker::complete_connect`]), now or when the
    /// password verdict or the exchange comes back.
    pub(crate) fn handle_connect(&mut self, now: Instant, id: ConnId, connect: Connect) {
        if let Some(admission) = self.validate_connect(id, connect) {
            self.authenticate_connect(now, id, admission);
        }
    }

    /// Checks what needs no credentials: redirection, the will's QoS and
    /// retain, the client identifier, keep-alive. Refuses (CONNACK and
    /// close) and returns `None` when one fails.
    fn validate_connect(&mut self, id: ConnId, mut connect: Connect) -> Option<Admission> {
        let protocol = connect.protocol;
        let conn = self.conns.get_mut(&id).expect("caller checked");
        conn.protocol = protocol;
        if protocol.is_v5() {
            // Known before any answer: even a refusal must fit it.
            conn.max_packet_size = connect.properties.maximum_packet_size().unwrap_or(u32::MAX);
        }
        let peer = conn.peer;
        // A verified TLS client certificate names the user (Mosquitto's
        // use_identity_as_username): it replaces the CONNECT user name, and
        // the password is not used.
        let cert_user = conn.cert_username().is_some();
        if let Some(name) = conn.cert_username() {
            connect.username = Some(name.as_str().into());
            connect.password = None;
        }
        // The listener's mount_point: the will lives under it too.
        if let (Some(mount), Some(will)) = (conn.mount_point(), connect.will.as_mut()) {
            will.topic = crate::mount_point::mount_name(mount, &will.topic);
        }

        if self.refuse_missing_identity(id) {
            return None;
        }
        // Maintenance redirection (MQTT 5 §4.11): every client is sent away.
        if let Some(reference) = self.settings.server_reference.clone() {
            self.redirect(id, reference);
            return None;
        }

        if self.refuse_oversize_will(id, &connect) {
            return None;
        }
        // A will the broker could not publish as asked is refused up front
        // ([MQTT-3.2.2-12], [MQTT-3.2.2-13]).
        if let Some(will) = &connect.will {
            let code = if will.qos as u8 > self.settings.max_qos {
                Some((
                    ReasonCode::QosNotSupported,
                    "will QoS is over the Maximum QoS",
                ))
            } else if will.retain && !self.settings.retain_available {
                Some((
                    ReasonCode::RetainNotSupported,
                    "retained wills are not available",
                ))
            } else {
                None
            };
            if let Some((reason, text)) = code {
                tracing::info!("Client from {peer} refused: {text}.");
                self.hints
                    .give(crate::hints::Hint::WillRefused, &self.settings);
                self.refuse(id, reason, Some(text));
                return None;
            }
        }

        // Client identifier ([MQTT-3.1.3-7] .. [MQTT-3.1.3-9]).
        // Copied out of the CONNECT frame: the session keeps it for long,
        // and a slice would pin the whole read buffer it arrived in.
        let mut client_id = ByteString::from(&*connect.client_id);
        let mut assigned = false;
        if client_id.len() > self.settings.max_client_id_length {
            self.stats.limit_client_id += 1;
            tracing::info!(
                "Client from {peer} refused: its client id is {} bytes long, over \
                 max_client_id_length {}.",
                client_id.len(),
                self.settings.max_client_id_length
            );
            self.hints
                .give(crate::hints::Hint::ClientIdTooLong, &self.settings);
            let text = "client id too long";
            self.refuse(id, ReasonCode::ClientIdentifierNotValid, Some(text));
            return None;
        }
        if client_id.is_empty() {
            if self.refuse_empty_client_id(id, peer) {
                return None;
            }
            let allowed = match protocol {
                Protocol::V3_1 => false,
                Protocol::V3_1_1 => connect.clean_start,
                Protocol::V5 => true,
            };
            if !allowed {
                tracing::info!(
                    "Client from {peer} refused: an empty client id needs clean session \
                     (MQTT 3.1.1 [MQTT-3.1.3-8]) or MQTT 5."
                );
                self.refuse(id, ReasonCode::ClientIdentifierNotValid, None);
                return None;
            }
            client_id = self.assign_client_id();
            assigned = true;
        }
        if self.refuse_client_id_prefix(id, peer, &client_id) {
            return None;
        }

        // Keep-alive ceiling, as Mosquitto's max_keepalive.
        let max_ka = self.settings.max_keepalive;
        let mut keep_alive = connect.keep_alive;
        let mut server_keep_alive = None;
        if max_ka != u16::MAX && (keep_alive == 0 || keep_alive > max_ka) {
            if protocol.is_v5() {
                keep_alive = max_ka;
                server_keep_alive = Some(max_ka);
            } else {
                tracing::info!(
                    "Client {client_id} from {peer} refused: keep-alive {} is over max_keepalive {max_ka}.",
                    connect.keep_alive
                );
                self.hints
                    .give(crate::hints::Hint::KeepAliveTooLong, &self.settings);
                self.refuse(id, ReasonCode::ClientIdentifierNotValid, None);
                return None;
            }
        }
        Some(Admission {
            connect,
            client_id,
            assigned,
            keep_alive,
            server_keep_alive,
            cert_user,
        })
    }

    /// Authentication: an Authentication Method starts the enhanced
    /// exchange (MQTT 5 §4.12, see `auth`); a user name with a
    /// password_file is checked by the shell, off the lock (the CONNECT
    /// waits in `CheckingPassword`); otherwise the anonymous policy
    /// decides. Each path ends in [`Broker::complete_connect`].
    fn authenticate_connect(&mut self, now: Instant, id: ConnId, admission: Admission) {
        if let Some(method) = admission.connect.properties.authentication_method() {
            let method = method.clone();
            return self.start_enhanced_auth(now, id, method, admission);
        }
        if admission.cert_user {
            return self.complete_connect(now, id, admission, Credentials::Certificate);
        }
        match self.password_check(&admission.connect) {
            Some(check) => {
                let conn = self.conns.get_mut(&id).expect("caller checked");
                conn.state.check_password(admission);
                self.out.check_password(id, check);
            }
            None => self.complete_connect(now, id, admission, Credentials::Unchecked),
        }
    }

    /// The CONNECT's client is authenticated (or anonymous): authorize
    /// it, take over an older connection with its id, attach the session
    /// and answer CONNACK.
    pub(crate) fn complete_connect(
        &mut self,
        now: Instant,
        id: ConnId,
        admission: Admission,
        credentials: Credentials,
    ) {
        let Some(username) = self.admit_connect(now, id, &admission, &credentials) else {
            return;
        };
        let (auth, auth_data) = match credentials {
            Credentials::Enhanced { auth, data } => (Some(auth), data),
            _ => (None, None),
        };
        let ready = Ready {
            admission,
            username,
            auth,
            auth_data,
        };
        // Cluster: a persistent session's client id is claimed in etcd
        // first (see `claiming`).
        if self.must_claim(&ready) {
            return self.start_claim(now, id, ready);
        }
        self.proceed_connect(now, id, ready);
    }

    /// An admitted (and, in a cluster, claimed) CONNECT: waits for the
    /// input of the connection it takes over, or finishes now.
    pub(crate) fn proceed_connect(&mut self, now: Instant, id: ConnId, ready: Ready) {
        // A DISCONNECT the old connection already sent counts (see `takeover`).
        if let Some(old) = self.must_wait_for(id, &ready.admission.client_id) {
            return self.wait_for_takeover(now, id, old, ready);
        }
        self.finish_connect(now, id, ready);
    }

    /// An admitted CONNECT goes on: takeover of an older connection with
    /// its id, the session, CONNACK.
    pub(crate) fn finish_connect(&mut self, now: Instant, id: ConnId, ready: Ready) {
        let Ready {
            admission,
            username,
            auth,
            auth_data,
        } = ready;
        self.take_over(now, &admission.client_id);
        let attached = self.attach_session(&admission, username.clone(), id);
        let auth_data = auth.as_ref().map(|_| auth_data);
        let method = auth.as_ref().map(|a| a.method.clone());
        let connack = self.connack(&admission, &attached, method.zip(auth_data));
        let key = attached.key;
        self.accept_connection(now, id, admission, username, key, auth);
        let conn = self.conns.get_mut(&id).expect("caller checked");
        let packet = Packet::ConnAck(connack);
        let len = packet.encoded_len(conn.protocol).unwrap_or(usize::MAX);
        let fits = len <= conn.max_packet_size as usize;
        if fits {
            self.out.send(id, conn, &mut self.stats, packet);
        } else {
            // [MQTT-3.1.2-24]: nothing larger than the client's Maximum
            // Packet Size may be sent, the CONNACK included: close without
            // one, as Mosquitto does.
            tracing::warn!(
                "Client {} asked for a Maximum Packet Size of {} bytes, smaller than its \
                 CONNACK ({len} bytes); closing the connection without one.",
                conn.name(),
                conn.max_packet_size
            );
        }
        let active = self.conns.note_connected();
        self.stats.note_connected(active);
        if !fits {
            return self.end_connection(now, id, false);
        }

        if attached.present {
            self.resend_inflight(key);
        }
        self.flush(key);
        if !self.settings.auto_subscribe.is_empty() {
            self.auto_subscribe(id);
        }
    }

    /// The verdict, the anonymous policy, the will's ACL and flapping:
    /// whether the client may connect. Returns who it is for the ACL
    /// (`None`: anonymous), or refuses and returns `None`.
    fn admit_connect(
        &mut self,
        now: Instant,
        id: ConnId,
        admission: &Admission,
        credentials: &Credentials,
    ) -> Option<Option<ByteString>> {
        let Admission {
            connect, client_id, ..
        } = admission;
        let conn = &self.conns[&id];
        let peer = conn.peer;
        let anonymous = conn.anonymous().unwrap_or(self.settings.anonymous);
        match credentials {
            Credentials::Certificate
            | Credentials::Enhanced { .. }
            | Credentials::Password(true) => {}
            Credentials::Password(false) => {
                tracing::warn!(
                    "Client {client_id} from {peer} refused: bad user name or password for user '{}'.",
                    connect.username.as_deref().unwrap_or_default()
                );
                self.hints
                    .give(crate::hints::Hint::BadPassword, &self.settings);
                let text = "bad user name or password";
                self.refuse(id, ReasonCode::BadUserNameOrPassword, Some(text));
                return None;
            }
            Credentials::Unchecked => {
                if let Err(reason) = self.admit(connect, peer, anonymous) {
                    tracing::warn!("Client {client_id} from {peer} refused: {reason}",);
                    self.hints
                        .give(crate::hints::Hint::Anonymous, &self.settings);
                    let text = "anonymous access is not allowed from this address";
                    self.refuse(id, ReasonCode::NotAuthorized, Some(text));
                    return None;
                }
            }
        }

        // Who the client is for the ACL: the user that authenticated. A
        // user name nobody checked (no password_file) counts as anonymous.
        let username: Option<ByteString> = match credentials {
            Credentials::Enhanced { auth, .. } => auth.user.as_deref().map(ByteString::from),
            // A certificate identity was verified by the TLS layer.
            _ if self.authenticator.is_some() || admission.cert_user => {
                connect.username.as_deref().map(ByteString::from)
            }
            _ => None,
        };

        // A will the client may not publish is refused up front, as
        // Mosquitto does (CONNACK 0x87 / 3.x 0x05).
        if let Some(will) = &connect.will {
            if let Err(why) =
                self.authorize(client_id, username.as_deref(), &will.topic, Access::Write)
            {
                self.stats.acl_denied_publish += 1;
                tracing::info!(
                    "Client {client_id} from {peer} refused: the ACL denies {} write access to \
                     its will topic '{}' ({why}).",
                    crate::authorize::user_label(username.as_deref()),
                    will.topic
                );
                self.hints
                    .give(crate::hints::Hint::AclDenied, &self.settings);
                let text = "not authorized to publish the will";
                self.refuse(id, ReasonCode::NotAuthorized, Some(text));
                return None;
            }
        }

        // Flapping: the same client id connecting again and again (two
        // devices sharing it kick each other off forever).
        // The live connection this one takes over counts too (it is
        // recorded only when it ends, see `limits`).
        let live = self
            .sessions
            .key_of(client_id)
            .and_then(|key| self.sessions[&key].conn)
            .filter(|&other| other != id)
            .and_then(|other| self.conns.get(&other))
            .map(|other| other.opened_at);
        let (settings, stats, hints) = (&self.settings, &mut self.stats, &mut self.hints);
        if self
            .limits
            .note_connect(now, client_id, live, peer, settings, stats, hints)
            .is_err()
        {
            let text = "connection rate exceeded: this client id is connecting too often";
            self.refuse(id, ReasonCode::ConnectionRateExceeded, Some(text));
            return None;
        }
        Some(username)
    }

    /// Takeover ([MQTT-3.1.4-3]): a live connection with `client_id` is
    /// closed (MQTT 5: DISCONNECT 0x8E first), its will published.
    pub(crate) fn take_over(&mut self, now: Instant, client_id: &ByteString) {
        let Some(key) = self.sessions.key_of(client_id) else {
            return;
        };
        if let Some(old) = self.sessions[&key].conn {
            tracing::info!("Client {client_id} already connected, closing old connection.");
            if let Some(old_conn) = self.conns.get_mut(&old) {
                if old_conn.protocol.is_v5() {
                    let packet = Disconnect::new(ReasonCode::SessionTakenOver).into();
                    self.out.send(old, old_conn, &mut self.stats, packet);
                }
            }
            self.end_connection(now, old, true);
        }
    }

    /// Session: clean start discards, otherwise resume ([MQTT-3.1.2-4],
    /// [MQTT-3.1.2-5]); the session now belongs to connection `id`.
    fn attach_session(
        &mut self,
        admission: &Admission,
        username: Option<ByteString>,
        id: ConnId,
    ) -> Attached {
        let Admission {
            connect, client_id, ..
        } = admission;
        let protocol = connect.protocol;
        // The broker's ceiling (`max_session_expiry`, Mosquitto's
        // `persistent_client_expiration`) applies to every version.
        let asked = if protocol.is_v5() {
            connect.properties.session_expiry_interval().unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            NEVER_EXPIRES
        };
        let expiry = asked.min(self.settings.max_session_expiry);
        let mut key = self.sessions.key_of(client_id);
        if connect.clean_start {
            if let Some(old) = key.take() {
                self.remove_session(old);
            }
        }
        let present = key.is_some();
        if let Some(key) = key {
            // Back in time: the delayed will is not sent ([MQTT-3.1.3-9]).
            if self.delayed_wills.remove(&key).is_some() {
                self.persist_will_cleared(key);
                self.delayed_will_gone(key);
            }
        }
        let key = match key {
            Some(key) => key,
            None => {
                let session = Session::new(client_id.clone(), protocol, expiry);
                self.sessions.create(session)
            }
        };
        let session = self.sessions.get_mut(&key).expect("just ensured");
        session.conn = Some(id);
        session.username = username;
        session.protocol = protocol;
        session.expiry_interval = expiry;
        session.disconnected_at = None;
        self.journal.touch(key);
        Attached {
            key,
            present,
            expiry,
            asked,
        }
    }

    /// Connection `id` is connected to session `key`: its state, what
    /// CONNECT negotiated, its will (recorded for a durable session) and
    /// its keep-alive deadline.
    fn accept_connection(
        &mut self,
        now: Instant,
        id: ConnId,
        admission: Admission,
        username: Option<ByteString>,
        key: SessionKey,
        auth: Option<AuthState>,
    ) {
        let Admission {
            connect,
            client_id,
            keep_alive,
            ..
        } = admission;
        let rate = crate::limits::RateState::new(&self.settings, now);
        let conn = self.conns.get_mut(&id).expect("caller checked");
        conn.state.connected(auth);
        conn.client_id = client_id;
        conn.username = username;
        conn.session = Some(key);
        conn.bridge = connect.bridge;
        conn.set_rate(rate);
        conn.set_connect_username(connect.username.as_deref().map(ByteString::from));
        conn.keep_alive_secs = keep_alive;
        conn.will = connect.will.map(|mut w| {
            w.detach(); // held for the connection's life: not a slice of the read buffer
            Box::new(w)
        });
        // Cluster: the other nodes take over a connection with this
        // client id, and hold the will, so that a survivor publishes it if
        // this node dies.
        if self.cluster.is_some() {
            let (client_id, will) = (conn.client_id.clone(), conn.will.clone());
            // A claimed client id needs no link announcement: the other
            // nodes see the claim in etcd (see `claiming`).
            let claimed = self.attach_claim(id, &client_id);
            self.cluster_connected(now, id, client_id, will.map(|w| *w), !claimed);
        }
        let conn = self.conns.get_mut(&id).expect("caller checked");
        // A durable session's will is recorded, so that a broker crash (an
        // abnormal end of this connection) still publishes it after the
        // restart ([MQTT-3.1.2-8]).
        if let Some(will) = conn.will.clone() {
            let recorded = self.persist_connected_will(key, Some(*will));
            self.conns
                .get_mut(&id)
                .expect("caller checked")
                .will_recorded = recorded;
        }
        let conn = self.conns.get_mut(&id).expect("caller checked");
        if connect.protocol.is_v5() {
            let props = &connect.properties;
            conn.receive_maximum = props.receive_maximum().unwrap_or(u16::MAX);
            conn.max_packet_size = props.maximum_packet_size().unwrap_or(u32::MAX);
            conn.problem_information = props.request_problem_information() != Some(0);
            conn.alias_max_out = props.topic_alias_maximum().unwrap_or(0);
        }
        let keep_alive_deadline = conn.keep_alive().map(|ka| now + ka);
        if self.settings.connection_messages {
            let peer = conn.peer;
            let username = match &connect.username {
                Some(u) => format!(", u'{u}'"),
                None => String::new(),
            };
            tracing::info!(
                "New {} connected from {peer} as {} (p{}, c{}, k{}{username}).",
                if conn.bridge { "bridge" } else { "client" },
                conn.client_id,
                // Mosquitto's numbering: p1 = 3.1, p2 = 3.1.1, p5 = 5.0.
                match connect.protocol {
                    Protocol::V3_1 => 1,
                    Protocol::V3_1_1 => 2,
                    Protocol::V5 => 5,
                },
                u8::from(connect.clean_start),
                connect.keep_alive,
            );
        }
        if let Some(at) = keep_alive_deadline {
            self.conns.watch_keep_alive(at, id);
        }
    }

    /// The successful CONNACK: session present, and for MQTT 5 what the
    /// broker assigned, lowered or does not offer; `enhanced` is the
    /// Authentication Method and the exchange's final data.
    fn connack(
        &self,
        admission: &Admission,
        attached: &Attached,
        enhanced: Option<(ByteString, Option<Bytes>)>,
    ) -> ConnAck {
        let mut connack = ConnAck::new(ReasonCode::Success, attached.present);
        let connect = &admission.connect;
        if !connect.protocol.is_v5() {
            return connack;
        }
        let props = &mut connack.properties;
        if admission.assigned {
            props.push(Property::AssignedClientIdentifier(
                admission.client_id.clone(),
            ));
        }
        if let Some(ka) = admission.server_keep_alive {
            props.push(Property::ServerKeepAlive(ka));
        }
        // [MQTT-3.2.2-22]-style: the interval the broker will use, when
        // it lowered the client's.
        if attached.expiry != attached.asked {
            props.push(Property::SessionExpiryInterval(attached.expiry));
        }
        let s = &self.settings;
        if s.receive_maximum < u16::MAX {
            props.push(Property::ReceiveMaximum(s.receive_maximum));
        }
        if s.max_qos < 2 {
            props.push(Property::MaximumQos(s.max_qos));
        }
        if !s.retain_available {
            props.push(Property::RetainAvailable(0));
        }
        if !s.wildcard_subscriptions {
            props.push(Property::WildcardSubscriptionAvailable(0));
        }
        if !s.subscription_identifiers {
            props.push(Property::SubscriptionIdentifierAvailable(0));
        }
        // Only to a client that asked ([MQTT-3.1.2-28] note: never unasked).
        if let (Some(1), Some(prefix)) = (
            connect.properties.request_response_information(),
            &s.response_information,
        ) {
            let info = format!("{prefix}{}", admission.client_id);
            props.push(Property::ResponseInformation(info.into()));
        }
        if s.topic_alias_maximum > 0 {
            props.push(Property::TopicAliasMaximum(s.topic_alias_maximum));
        }
        if s.max_packet_size < hornet_codec::MAX_PACKET_SIZE as u32 {
            props.push(Property::MaximumPacketSize(s.max_packet_size));
        }
        if !s.shared_subscriptions {
            props.push(Property::SharedSubscriptionAvailable(0));
        }
        // [MQTT-4.12.0-5]: a successful CONNACK repeats the method.
        if let Some((method, data)) = enhanced {
            props.push(Property::AuthenticationMethod(method));
            if let Some(data) = data {
                props.push(Property::AuthenticationData(data));
            }
        }
        connack
    }

    /// Refuses a CONNECT because the broker is redirecting clients
    /// (`server_reference`): MQTT 5 gets 0x9C Use another server (or 0x9D
    /// Server moved with `server_moved`) with the Server Reference; MQTT 3.x
    /// gets 0x03 Server unavailable.
    fn redirect(&mut self, id: ConnId, reference: String) {
        let conn = self.conns.get_mut(&id).expect("caller checked");
        tracing::info!(
            "Client from {} sent to another server ({reference}): server_reference is set.",
            conn.peer
        );
        self.hints
            .give(crate::hints::Hint::ServerReference, &self.settings);
        if !conn.protocol.is_v5() {
            return self.refuse(id, ReasonCode::ServerUnavailable, None);
        }
        let reason = if self.settings.server_moved {
            ReasonCode::ServerMoved
        } else {
            ReasonCode::UseAnotherServer
        };
        let mut connack = ConnAck::new(reason, false);
        connack
            .properties
            .push(Property::ServerReference(reference.into()));
        self.out.send(id, conn, &mut self.stats, connack.into());
        self.conns.remove(&id);
        self.out.close(id);
    }

    /// Answers CONNACK with `reason` and closes ([MQTT-3.2.2-6]: no session present).
    pub(crate) fn refuse(&mut self, id: ConnId, reason: ReasonCode, text: Option<&str>) {
        if matches!(
            reason,
            ReasonCode::BadUserNameOrPassword | ReasonCode::NotAuthorized
        ) {
            self.stats.auth_failures += 1;
        }
        let conn = self.conns.get_mut(&id).expect("caller checked");
        let mut connack = ConnAck::new(reason, false);
        if let (true, Some(text)) = (conn.protocol.is_v5(), text) {
            connack.properties.push(Property::ReasonString(text.into()));
        }
        let packet = crate::broker::fit_reason_string(connack.into(), conn);
        self.out.send(id, conn, &mut self.stats, packet);
        self.conns.remove(&id);
        self.out.close(id);
    }

    /// Decides whether the client may connect; the error explains the fix.
    /// `anonymous` is the policy of the connection's listener.
    fn admit(
        &self,
        connect: &Connect,
        peer: std::net::SocketAddr,
        anonymous: Anonymous,
    ) -> Result<(), String> {
        let loopback = peer.ip().is_loopback()
            || matches!(peer.ip(), std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
        match anonymous {
            Anonymous::Always => Ok(()),
            Anonymous::Loopback if loopback => Ok(()),
            Anonymous::Loopback => Err(format!(
                "not authorized: anonymous clients are only accepted from loopback by default{}. \
                 To accept them from the network set {}, or give clients users in a `password_file`.",
                if connect.username.is_some() { " (a username without a password_file is not checked, so it counts as anonymous)" } else { "" },
                self.settings.wording.fix(crate::hints::Fix::AnonymousFromNetwork)
            )),
            Anonymous::Never if self.authenticator.is_some() => Err(
                "not authorized: allow_anonymous is false, so a client needs a user name and \
                 password from the password_file."
                    .to_string(),
            ),
            Anonymous::Never => Err(format!(
                "not authorized: allow_anonymous is false and no password_file is configured, so nobody can connect. \
                 Set {}.",
                self.settings.wording.fix(crate::hints::Fix::AnonymousFromSomewhere)
            )),
        }
    }

    /// A fresh client identifier for an MQTT 5 client that sent none.
    fn assign_client_id(&mut self) -> ByteString {
        self.sessions
            .assign_client_id(&self.settings.auto_id_prefix)
    }

    /// Queues what the client has not acknowledged for resending, in the
    /// order it was first sent: PUBLISH with DUP for QoS 1 and unacknowledged
    /// QoS 2, PUBREL after PUBREC ([MQTT-4.4.0-1]). They keep their packet
    /// ids and go out as the new connection's window allows
    /// ([MQTT-4.9.0-2]); see `flush`.
    fn resend_inflight(&mut self, key: u64) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let resend: std::collections::VecDeque<u16> = session
            .inflight_in_order()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if resend.is_empty() {
            session.pending_resend.release();
        } else {
            *session.pending_resend = resend;
        }
    }

    pub(crate) fn handle_disconnect(&mut self, now: Instant, id: ConnId, disconnect: Disconnect) {
        let conn = self.conns.get_mut(&id).expect("caller checked");
        let name = conn.name();
        // MQTT 5: the expiry may change on DISCONNECT, but not from 0 ([MQTT-3.14.2-2]).
        if let (Some(new), Some(key)) = (
            disconnect.properties.session_expiry_interval(),
            conn.session,
        ) {
            let session = &self.sessions[&key];
            if session.expiry_interval == 0 && new != 0 {
                return self.peer_error(now, id, PeerError::ExpiryRaisedFromZero, None);
            }
            // Still under the broker's ceiling (`max_session_expiry`).
            let new = new.min(self.settings.max_session_expiry);
            self.sessions.get_mut(&key).expect("exists").expiry_interval = new;
            self.journal.touch(key);
        }
        let conn = self.conns.get_mut(&id).expect("caller checked");
        // [MQTT-3.1.2-10]: a normal DISCONNECT discards the will; MQTT 5
        // reason 0x04 asks for it to be published anyway.
        if disconnect.reason_code != ReasonCode::DisconnectWithWillMessage {
            conn.will = None;
        }
        if self.settings.connection_messages {
            tracing::info!("Client {name} disconnected.");
        }
        self.end_connection(now, id, true);
    }
}
