//! How core values read in JSON: protocol versions, QoS, times as Unix
//! seconds, payloads as UTF-8 or base64, MQTT 5 properties as an object.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use hornet_codec::{Properties, Property, Protocol};
use serde::{Deserialize, Serialize};

/// `"3.1"`, `"3.1.1"` or `"5.0"`.
pub(crate) fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::V3_1 => "3.1",
        Protocol::V3_1_1 => "3.1.1",
        Protocol::V5 => "5.0",
    }
}

/// The wall-clock Unix time (seconds) of a monotonic `at`, past or future.
pub(crate) fn unix_seconds(at: Instant) -> u64 {
    let now = Instant::now();
    let ago = now.saturating_duration_since(at);
    let ahead = at.saturating_duration_since(now);
    SystemTime::now()
        .checked_sub(ago)
        .and_then(|t| t.checked_add(ahead))
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// A payload for JSON: UTF-8 text as is, anything else in base64.
#[derive(Debug, Serialize)]
pub(crate) struct PayloadView {
    pub(crate) payload: String,
    pub(crate) payload_encoding: &'static str,
    pub(crate) payload_bytes: usize,
}

impl PayloadView {
    pub(crate) fn of(payload: &Bytes) -> Self {
        match std::str::from_utf8(payload) {
            Ok(text) => PayloadView {
                payload: text.to_string(),
                payload_encoding: "utf8",
                payload_bytes: payload.len(),
            },
            Err(_) => PayloadView {
                payload: base64::engine::general_purpose::STANDARD.encode(payload),
                payload_encoding: "base64",
                payload_bytes: payload.len(),
            },
        }
    }
}

/// A user property.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserProperty {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// The MQTT 5 PUBLISH properties the API reads and writes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) payload_format_indicator: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message_expiry_interval: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response_topic: Option<String>,
    /// Base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) correlation_data: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) user_properties: Vec<UserProperty>,
}

impl PublishProperties {
    /// The properties of a stored message.
    pub(crate) fn from_properties(props: &Properties) -> Self {
        let mut out = PublishProperties::default();
        for p in props.iter() {
            match p {
                Property::PayloadFormatIndicator(v) => out.payload_format_indicator = Some(*v),
                Property::MessageExpiryInterval(v) => out.message_expiry_interval = Some(*v),
                Property::ContentType(v) => out.content_type = Some(v.to_string()),
                Property::ResponseTopic(v) => out.response_topic = Some(v.to_string()),
                Property::CorrelationData(v) => {
                    out.correlation_data = Some(base64::engine::general_purpose::STANDARD.encode(v))
                }
                Property::UserProperty(k, v) => out.user_properties.push(UserProperty {
                    key: k.to_string(),
                    value: v.to_string(),
                }),
                _ => {}
            }
        }
        out
    }

    /// The wire properties, or what is wrong with them.
    pub(crate) fn to_properties(&self) -> Result<Properties, String> {
        let mut props = Properties::default();
        if let Some(v) = self.payload_format_indicator {
            if v > 1 {
                return Err(format!("payload_format_indicator must be 0 or 1, not {v}"));
            }
            props.push(Property::PayloadFormatIndicator(v));
        }
        if let Some(v) = self.message_expiry_interval {
            props.push(Property::MessageExpiryInterval(v));
        }
        if let Some(v) = &self.content_type {
            props.push(Property::ContentType(v.as_str().into()));
        }
        if let Some(v) = &self.response_topic {
            hornet_codec::topic::validate_name(v)
                .map_err(|e| format!("response_topic {v:?}: {e}"))?;
            props.push(Property::ResponseTopic(v.as_str().into()));
        }
        if let Some(v) = &self.correlation_data {
            let data = base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|e| format!("correlation_data must be base64: {e}"))?;
            props.push(Property::CorrelationData(data.into()));
        }
        for u in &self.user_properties {
            props.push(Property::UserProperty(
                u.key.as_str().into(),
                u.value.as_str().into(),
            ));
        }
        Ok(props)
    }
}
