//! The QoS a copy of a message goes out with: the lower of the message's
//! and the subscription's ([MQTT-3.8.4-8]), or, with Mosquitto's
//! `upgrade_outgoing_qos`, the subscription's (a QoS 0 message to a QoS 2
//! subscriber goes out at QoS 2). Called where live and retained messages
//! are shaped for a subscriber (`publish.rs`).

use hornet_codec::QoS;

use crate::broker::Broker;

impl Broker {
    /// The QoS of a copy of a `message` QoS message for a `subscription`
    /// QoS subscription.
    pub(crate) fn outgoing_qos(&self, message: QoS, subscription: QoS) -> QoS {
        if self.settings.upgrade_outgoing_qos {
            subscription
        } else {
            message.min(subscription)
        }
    }
}
