//! The `tracing` layer: which events are lines (`log_type`), each event as
//! one line of text (the message and any other fields), cut at
//! [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES), handed to the writer's
//! queue (and, with `log_dest topic`, offered to the topic's) without
//! waiting.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::topic::TopicDest;
use super::writer::{Line, Queue};

/// The levels `log_type` lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Types {
    error: bool,
    warning: bool,
    info: bool,
    debug: bool,
    /// The subscribe and unsubscribe lines (`log_type subscribe`,
    /// `unsubscribe`, `all`, or verbose): off by default, as in Mosquitto.
    subscribe: bool,
    unsubscribe: bool,
}

/// What a line is, for `log_type` and the topic it is published on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A line of its level.
    Plain,
    /// A subscription (`CLIENT QOS FILTER`).
    Subscribe,
    /// An unsubscription (`CLIENT FILTER`).
    Unsubscribe,
}

impl Kind {
    fn of(target: &str) -> Kind {
        if target == hornet_core::SUBSCRIBE_LOG_TARGET {
            Kind::Subscribe
        } else if target == hornet_core::UNSUBSCRIBE_LOG_TARGET {
            Kind::Unsubscribe
        } else {
            Kind::Plain
        }
    }
}

impl Types {
    /// From the `log_type` values: none given keeps every level the filter
    /// passes (Mosquitto's default of error, warning, notice and
    /// information, with debug under `-v`); `notice` and `information`
    /// both mean INFO lines; `all` is everything, `none` nothing.
    /// `verbose` (`-v`, `log_type debug` or `all`) also shows the
    /// subscribe and unsubscribe lines.
    pub(crate) fn from_log(types: &[String], verbose: bool) -> Types {
        let mut t = Types {
            error: types.is_empty(),
            warning: types.is_empty(),
            info: types.is_empty(),
            debug: types.is_empty(),
            subscribe: verbose,
            unsubscribe: verbose,
        };
        for ty in types {
            match ty.as_str() {
                "error" => t.error = true,
                "warning" => t.warning = true,
                "notice" | "information" | "websockets" => t.info = true,
                "subscribe" => (t.info, t.subscribe) = (true, true),
                "unsubscribe" => (t.info, t.unsubscribe) = (true, true),
                "debug" => t.debug = true,
                "all" => {
                    t = Types {
                        error: true,
                        warning: true,
                        info: true,
                        debug: true,
                        subscribe: true,
                        unsubscribe: true,
                    }
                }
                _ => {}
            }
        }
        t
    }

    fn allows_kind(self, kind: Kind, level: &Level) -> bool {
        match kind {
            Kind::Plain => self.allows(level),
            Kind::Subscribe => self.subscribe,
            Kind::Unsubscribe => self.unsubscribe,
        }
    }

    fn allows(self, level: &Level) -> bool {
        match *level {
            Level::ERROR => self.error,
            Level::WARN => self.warning,
            Level::INFO => self.info,
            _ => self.debug,
        }
    }
}

/// Formats events as Mosquitto's log lines and queues them.
pub(crate) struct MosquittoLayer {
    types: Types,
    queue: Arc<Queue>,
    topic: Option<TopicDest>,
}

impl MosquittoLayer {
    pub(crate) fn new(types: Types, queue: Arc<Queue>, topic: Option<TopicDest>) -> Self {
        MosquittoLayer {
            types,
            queue,
            topic,
        }
    }
}

impl<S: Subscriber> Layer<S> for MosquittoLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let kind = Kind::of(event.metadata().target());
        if !self.types.allows_kind(kind, &level) {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let line = Line {
            level,
            at: SystemTime::now(),
            text: cut(text.finish(), super::MAX_LINE_BYTES),
        };
        if let Some(topic) = &self.topic {
            topic.offer(kind, &line.level, line.at, &line.text);
        }
        self.queue.push(line);
    }
}

/// The message, then other fields as ` name=value`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(mut self) -> String {
        self.message.push_str(&self.fields);
        self.message
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), saying how
/// many bytes were cut; one line (line breaks become spaces).
pub(crate) fn cut(text: String, max: usize) -> String {
    let mut text = if text.contains(['\n', '\r']) {
        text.replace(['\n', '\r'], " ")
    } else {
        text
    };
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    let _ = write!(text, "... ({cut} bytes cut)");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short".into(), 10), "short");
        assert_eq!(cut("a\nb".into(), 10), "a b");
        let long = "é".repeat(10); // 20 bytes
        assert_eq!(cut(long, 5), "éé... (16 bytes cut)");
    }

    #[test]
    fn log_types_choose_levels() {
        let t = Types::from_log(&[], false);
        assert!(t.allows(&Level::DEBUG) && t.allows(&Level::ERROR));
        assert!(!t.allows_kind(Kind::Subscribe, &Level::INFO));
        assert!(Types::from_log(&[], true).allows_kind(Kind::Subscribe, &Level::INFO));
        let t = Types::from_log(&["error".into(), "notice".into()], false);
        assert!(t.allows(&Level::ERROR) && t.allows(&Level::INFO));
        assert!(!t.allows(&Level::WARN) && !t.allows(&Level::DEBUG));
        let t = Types::from_log(&["none".into()], false);
        assert!(!t.allows(&Level::ERROR));
        let all = Types::from_log(&["all".into()], false);
        assert!(all.allows(&Level::TRACE) && all.allows_kind(Kind::Unsubscribe, &Level::INFO));
        let t = Types::from_log(&["subscribe".into()], false);
        assert!(t.allows_kind(Kind::Subscribe, &Level::INFO));
        assert!(!t.allows_kind(Kind::Unsubscribe, &Level::INFO));
    }
}
