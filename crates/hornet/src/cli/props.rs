//! `-D command identifier value`: MQTT 5 properties by name, as
//! `mosquitto_pub -D` takes them.
//!
//! Commands are `connect`, `publish`, `subscribe`, `unsubscribe`,
//! `disconnect` and `will`; identifiers are the spec's names in
//! lower-case with dashes (`message-expiry-interval`, `user-property`, ...).
//! `user-property` takes two values (name and value). Table 2-4 decides
//! which property a command may carry; a wrong one is refused with the
//! rule, before anything is sent.

use hornet_codec::{Properties, Property, PropertyContext, PropertyId, PropertyType};

/// Properties given with `-D`, by the packet they go in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CommandProperties {
    /// CONNECT.
    pub(crate) connect: Properties,
    /// PUBLISH.
    pub(crate) publish: Properties,
    /// SUBSCRIBE.
    pub(crate) subscribe: Properties,
    /// UNSUBSCRIBE.
    pub(crate) unsubscribe: Properties,
    /// DISCONNECT.
    pub(crate) disconnect: Properties,
    /// The will's properties.
    pub(crate) will: Properties,
}

impl CommandProperties {
    /// True when no property was given.
    pub(crate) fn is_empty(&self) -> bool {
        [
            &self.connect,
            &self.publish,
            &self.subscribe,
            &self.unsubscribe,
            &self.disconnect,
            &self.will,
        ]
        .iter()
        .all(|p| p.is_empty())
    }
}

/// The identifier's name as `-D` spells it: "Message Expiry Interval" is
/// `message-expiry-interval`.
fn cli_name(id: PropertyId) -> String {
    id.name().to_ascii_lowercase().replace(' ', "-")
}

/// Splits the words of every `-D` (clap hands them over as one list) into
/// one group per property: command, identifier, one value (two for
/// `user-property`).
fn groups(words: &[String]) -> Result<Vec<&[String]>, String> {
    let mut out = Vec::new();
    let mut rest = words;
    while !rest.is_empty() {
        let len = match rest.get(1) {
            Some(id) if id.eq_ignore_ascii_case("user-property") => 4,
            _ => 3,
        };
        if rest.len() < len {
            return Err(format!(
                "Error: -D {} needs {} words: command, identifier, value{}.",
                rest.join(" "),
                len,
                if len == 4 { " (name and value)" } else { "" }
            ));
        }
        let (group, tail) = rest.split_at(len);
        out.push(group);
        rest = tail;
    }
    Ok(out)
}

/// Parses the words of every `-D`.
pub(crate) fn parse(all: &[String]) -> Result<CommandProperties, String> {
    let mut out = CommandProperties::default();
    for words in groups(all)? {
        let (command, name, values) = match words {
            [c, n, rest @ ..] if !rest.is_empty() => (c.as_str(), n.as_str(), rest),
            _ => return Err("Error: -D needs a command, an identifier and a value.".into()),
        };
        let (context, list) = match command.to_ascii_lowercase().as_str() {
            "connect" => (PropertyContext::Connect, &mut out.connect),
            "publish" => (PropertyContext::Publish, &mut out.publish),
            "subscribe" => (PropertyContext::Subscribe, &mut out.subscribe),
            "unsubscribe" => (PropertyContext::Unsubscribe, &mut out.unsubscribe),
            "disconnect" => (PropertyContext::Disconnect, &mut out.disconnect),
            "will" => (PropertyContext::Will, &mut out.will),
            other => return Err(format!("Error: Invalid command {other} given in -D.")),
        };
        let id = PropertyId::ALL
            .iter()
            .copied()
            .find(|id| cli_name(*id) == name.to_ascii_lowercase())
            .ok_or_else(|| format!("Error: Invalid property name {name} given in -D."))?;
        if !id.allowed_in(context) {
            return Err(format!(
                "Error: {} property not allowed for {command} in -D (MQTT 5 Table 2-4).",
                cli_name(id)
            ));
        }
        if !id.repeatable_in(context) && list.iter().any(|p| property_id(p) == id) {
            return Err(format!(
                "Error: Duplicate {} property for {command} in -D.",
                cli_name(id)
            ));
        }
        list.push(value(id, values)?);
    }
    Ok(out)
}

fn property_id(p: &Property) -> PropertyId {
    // The encoder knows the id of each variant; match the ones -D makes.
    PropertyId::ALL
        .iter()
        .copied()
        .find(|id| value_matches(*id, p))
        .expect("every property has an id")
}

fn value_matches(id: PropertyId, p: &Property) -> bool {
    use Property as P;
    use PropertyId as I;
    matches!(
        (id, p),
        (I::PayloadFormatIndicator, P::PayloadFormatIndicator(_))
            | (I::MessageExpiryInterval, P::MessageExpiryInterval(_))
            | (I::ContentType, P::ContentType(_))
            | (I::ResponseTopic, P::ResponseTopic(_))
            | (I::CorrelationData, P::CorrelationData(_))
            | (I::SubscriptionIdentifier, P::SubscriptionIdentifier(_))
            | (I::SessionExpiryInterval, P::SessionExpiryInterval(_))
            | (I::AuthenticationMethod, P::AuthenticationMethod(_))
            | (I::AuthenticationData, P::AuthenticationData(_))
            | (
                I::RequestProblemInformation,
                P::RequestProblemInformation(_)
            )
            | (I::WillDelayInterval, P::WillDelayInterval(_))
            | (
                I::RequestResponseInformation,
                P::RequestResponseInformation(_)
            )
            | (I::ServerReference, P::ServerReference(_))
            | (I::ReasonString, P::ReasonString(_))
            | (I::ReceiveMaximum, P::ReceiveMaximum(_))
            | (I::TopicAliasMaximum, P::TopicAliasMaximum(_))
            | (I::TopicAlias, P::TopicAlias(_))
            | (I::UserProperty, P::UserProperty(..))
            | (I::MaximumPacketSize, P::MaximumPacketSize(_))
    )
}

fn number<T: std::str::FromStr>(id: PropertyId, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("Error: Invalid value {text} for {} in -D.", cli_name(id)))
}

/// Builds the property from its words.
fn value(id: PropertyId, values: &[String]) -> Result<Property, String> {
    use Property as P;
    use PropertyId as I;
    let pair = id.value_type() == PropertyType::Utf8StringPair;
    let want = if pair { 2 } else { 1 };
    if values.len() != want {
        return Err(format!(
            "Error: {} in -D takes {want} value{}.",
            cli_name(id),
            if pair { "s (name and value)" } else { "" }
        ));
    }
    let v = values[0].as_str();
    let zero_is_bad = |n: u32| {
        if n == 0 {
            Err(format!("Error: {} in -D must not be 0.", cli_name(id)))
        } else {
            Ok(n)
        }
    };
    Ok(match id {
        I::PayloadFormatIndicator => {
            let n: u8 = number(id, v)?;
            if n > 1 {
                return Err(format!(
                    "Error: Invalid value {v} for payload-format-indicator in -D (0 or 1)."
                ));
            }
            P::PayloadFormatIndicator(n)
        }
        I::MessageExpiryInterval => P::MessageExpiryInterval(number(id, v)?),
        I::ContentType => P::ContentType(v.into()),
        I::ResponseTopic => {
            hornet_codec::topic::validate_name(v)
                .map_err(|e| format!("Error: Invalid response-topic {v} in -D: {e}."))?;
            P::ResponseTopic(v.into())
        }
        I::CorrelationData => P::CorrelationData(v.as_bytes().to_vec().into()),
        I::SubscriptionIdentifier => {
            let n = zero_is_bad(number(id, v)?)?;
            if n > hornet_codec::MAX_VARINT {
                return Err(format!(
                    "Error: subscription-identifier {n} in -D is too large."
                ));
            }
            P::SubscriptionIdentifier(n)
        }
        I::SessionExpiryInterval => P::SessionExpiryInterval(number(id, v)?),
        I::AuthenticationMethod => P::AuthenticationMethod(v.into()),
        I::AuthenticationData => P::AuthenticationData(v.as_bytes().to_vec().into()),
        I::RequestProblemInformation => P::RequestProblemInformation(number(id, v)?),
        I::WillDelayInterval => P::WillDelayInterval(number(id, v)?),
        I::RequestResponseInformation => P::RequestResponseInformation(number(id, v)?),
        I::ServerReference => P::ServerReference(v.into()),
        I::ReasonString => P::ReasonString(v.into()),
        I::ReceiveMaximum => P::ReceiveMaximum(zero_is_bad(number::<u16>(id, v)?.into())? as u16),
        I::TopicAliasMaximum => P::TopicAliasMaximum(number(id, v)?),
        I::TopicAlias => P::TopicAlias(zero_is_bad(number::<u16>(id, v)?.into())? as u16),
        I::UserProperty => P::UserProperty(v.into(), values[1].as_str().into()),
        I::MaximumPacketSize => P::MaximumPacketSize(zero_is_bad(number(id, v)?)?),
        _ => {
            return Err(format!(
                "Error: {} is sent by the broker only; -D cannot set it.",
                cli_name(id)
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(words: &[&[&str]]) -> Result<CommandProperties, String> {
        let all: Vec<String> = words
            .iter()
            .flat_map(|w| w.iter().map(|s| s.to_string()))
            .collect();
        parse(&all)
    }

    #[test]
    fn every_command_gets_its_properties() {
        let p = d(&[
            &["connect", "session-expiry-interval", "60"],
            &["connect", "receive-maximum", "10"],
            &["connect", "maximum-packet-size", "1000"],
            &["publish", "content-type", "text/plain"],
            &["publish", "user-property", "k", "v"],
            &["publish", "user-property", "k", "w"],
            &["publish", "message-expiry-interval", "100"],
            &["publish", "correlation-data", "abc"],
            &["publish", "response-topic", "r/t"],
            &["publish", "payload-format-indicator", "1"],
            &["publish", "topic-alias", "3"],
            &["subscribe", "subscription-identifier", "7"],
            &["will", "will-delay-interval", "5"],
            &["disconnect", "session-expiry-interval", "0"],
            &["unsubscribe", "user-property", "a", "b"],
        ])
        .unwrap();
        assert_eq!(p.connect.len(), 3);
        assert_eq!(p.publish.len(), 8);
        assert_eq!(
            p.subscribe.as_slice(),
            &[Property::SubscriptionIdentifier(7)]
        );
        assert_eq!(p.will.as_slice(), &[Property::WillDelayInterval(5)]);
        assert_eq!(
            p.disconnect.as_slice(),
            &[Property::SessionExpiryInterval(0)]
        );
        assert_eq!(
            p.unsubscribe.as_slice(),
            &[Property::UserProperty("a".into(), "b".into())]
        );
        assert!(!p.is_empty());
    }

    /// Table 2-4 decides which property a packet may carry.
    #[test]
    fn wrong_properties_are_refused_with_a_reason() {
        let cases: &[&[&str]] = &[
            &["connect", "content-type", "x"],
            &["publish", "session-expiry-interval", "1"],
            &["frob", "content-type", "x"],
            &["publish", "no-such-property", "x"],
            &["publish", "message-expiry-interval", "-1"],
            &["publish", "payload-format-indicator", "2"],
            &["publish", "topic-alias", "0"],
            &["publish", "user-property", "only-name"],
            &["publish", "content-type", "a", "b"],
            &["publish", "content-type"],
            &["publish", "response-topic", "a/#"],
            &["connect", "receive-maximum", "0"],
        ];
        for words in cases {
            let err = d(&[words]).unwrap_err();
            assert!(err.starts_with("Error: "), "{words:?}: {err}");
        }
        let err = d(&[
            &["publish", "content-type", "a"],
            &["publish", "content-type", "b"],
        ])
        .unwrap_err();
        assert!(err.contains("Duplicate"), "{err}");
    }
}
