//! The id map: caller ids (`u64`) of every node in insertion order, and the live ones' nodes.
//!
//! Invariants: `ext` has one id per node, tombstones included; `map` holds exactly the live
//! nodes' ids, each once, pointing at their node.

use std::collections::HashMap;

use crate::NodeId;
use crate::section::{Reserve, Section, Sink};

/// Caller ids and internal nodes, both ways.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdMap {
    ext: Vec<u64>,
    map: HashMap<u64, NodeId>,
}

/// Buckets of a hash table sized for `n` entries (hashbrown's rule: 4 or 8 for small tables,
/// else the power of two that keeps the load at 7/8).
fn hash_buckets(n: usize) -> usize {
    match n {
        0 => 0,
        1..=3 => 4,
        4..=7 => 8,
        _ => (n.saturating_mul(8) / 7).next_power_of_two(),
    }
}

impl IdMap {
    /// Nodes held (tombstones included).
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.ext.len()
    }

    /// The caller id of node `n` (live or not).
    #[inline]
    pub(crate) fn id(&self, n: NodeId) -> u64 {
        self.ext[n.idx()]
    }

    /// The node of a live id.
    #[inline]
    pub(crate) fn node(&self, id: u64) -> Option<NodeId> {
        self.map.get(&id).copied()
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    /// Whether the next node needs the arrays to grow.
    /// Nodes that fit before the arrays grow (the parallel build's rounds; native only).
    #[cfg(not(target_family = "wasm"))]
    pub(crate) fn capacity_left(&self) -> usize {
        self.ext.capacity() - self.ext.len()
    }

    pub(crate) fn at_capacity(&self) -> bool {
        self.ext.len() == self.ext.capacity()
    }

    /// Appends a node for a new live id.
    pub(crate) fn push(&mut self, id: u64) -> NodeId {
        let n = NodeId(self.ext.len() as u32);
        self.ext.push(id);
        self.map.insert(id, n);
        n
    }

    /// Forgets a live id (its node keeps the id as a tombstone's).
    pub(crate) fn remove(&mut self, id: u64) -> Option<NodeId> {
        self.map.remove(&id)
    }

    /// Keeps the first `slots` nodes: the ids of the nodes dropped leave the map.
    pub(crate) fn truncate(&mut self, slots: usize) {
        for (n, id) in self.ext.iter().enumerate().skip(slots) {
            if self.map.get(id).is_some_and(|m| m.idx() == n) {
                self.map.remove(id);
            }
        }
        self.ext.truncate(slots);
    }

    /// Room for `n` more nodes.
    pub(crate) fn reserve_exact(&mut self, n: usize) -> Reserve {
        self.ext.try_reserve_exact(n)?;
        self.map.try_reserve(n)
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.ext.shrink_to_fit();
        self.map.shrink_to_fit();
    }

    /// Heap bytes, by capacity (a hash map entry plus its control byte).
    pub(crate) fn heap_bytes(&self) -> usize {
        // The map by the table its slots need, not by `capacity()`: that drops as removals leave
        // deleted markers and rises as inserts reuse them, with the allocation unchanged, and
        // depends on the hasher's random seed. This bound moves only with the slots' room,
        // which every operation that grows the index checks against a budget.
        self.ext.capacity() * 8
            + hash_buckets(self.ext.capacity()) * (std::mem::size_of::<(u64, NodeId)>() + 1)
    }

    // ---- snapshot: one section, the ids in node order; the map is rebuilt ---------------

    pub(crate) fn section(&self) -> Section<'_> {
        Section::U64(&self.ext)
    }

    pub(crate) fn sink(&mut self) -> Sink<'_> {
        Sink::U64(&mut self.ext)
    }

    pub(crate) fn for_reading(slots: usize) -> IdMap {
        IdMap {
            ext: Vec::with_capacity(slots),
            map: HashMap::new(),
        }
    }

    /// Once the ids and the tombstones are read: maps the live ids, each of which must be
    /// unique.
    pub(crate) fn index_live(
        &mut self,
        live: usize,
        deleted: impl Fn(NodeId) -> bool,
    ) -> Result<(), String> {
        let mut map = HashMap::with_capacity(live);
        for (n, &id) in self.ext.iter().enumerate() {
            let node = NodeId(n as u32);
            if !deleted(node) && map.insert(id, node).is_some() {
                return Err(format!("id {id} appears twice"));
            }
        }
        self.map = map;
        Ok(())
    }
}
