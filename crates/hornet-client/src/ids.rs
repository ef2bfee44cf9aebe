//! Packet identifiers: never 0 ([MQTT-2.2.1-3]), and never one that is
//! still in use ([MQTT-2.2.1-4]); handed out in increasing order, wrapping.

use std::collections::HashSet;

use hornet_codec::PacketId;

/// The packet identifiers this client has in use.
#[derive(Debug, Default, Clone)]
pub struct PacketIds {
    next: u16,
    used: HashSet<u16>,
}

impl PacketIds {
    /// The next free identifier, now in use; `None` when all 65,535 are.
    pub fn allocate(&mut self) -> Option<PacketId> {
        if self.used.len() >= u16::MAX as usize {
            return None;
        }
        loop {
            self.next = self.next.wrapping_add(1);
            if self.next == 0 {
                self.next = 1;
            }
            if self.used.insert(self.next) {
                return PacketId::new(self.next);
            }
        }
    }

    /// Marks `id` in use (a restored session's identifiers).
    pub fn reserve(&mut self, id: PacketId) {
        self.used.insert(id.get());
    }

    /// Frees `id`; true if it was in use.
    pub fn release(&mut self, id: PacketId) -> bool {
        self.used.remove(&id.get())
    }

    /// True if `id` is in use.
    pub fn in_use(&self, id: PacketId) -> bool {
        self.used.contains(&id.get())
    }

    /// How many are in use.
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// True if none is in use.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}
