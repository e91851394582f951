//! The graph: every node's level and its links per level, and the entry point.
//!
//! Level 0 is one flat array with a fixed stride (a count, then `m0` link slots per node); the
//! upper levels of all nodes share a second flat array (a count and `m` slots per level, a node's
//! blocks contiguous, found through `upper_off`).
//!
//! Invariants: a node's link count is at most its level's cap; every link names another node
//! that has that level; the entry point, when there is one, is a node of level `max_level`.

use crate::NodeId;
use crate::section::{Reserve, Section, Sink};

/// Highest level a node can draw.
pub(crate) const MAX_LEVEL: u8 = 16;

/// Links of every node on every level, and where a search starts.
#[derive(Clone, Debug)]
pub(crate) struct Graph {
    m: usize,
    m0: usize,
    levels: Vec<u8>,
    level0: Vec<u32>,
    upper: Vec<u32>,
    upper_off: Vec<u32>,
    entry: NodeId,
    max_level: u8,
}

/// The node's links at one level, as node ids.
pub(crate) type Links<'a> = std::iter::Map<std::slice::Iter<'a, u32>, fn(&u32) -> NodeId>;

impl Graph {
    pub(crate) fn new(m: usize, m0: usize) -> Graph {
        Graph {
            m,
            m0,
            levels: Vec::new(),
            level0: Vec::new(),
            upper: Vec::new(),
            upper_off: Vec::new(),
            entry: NodeId::INVALID,
            max_level: 0,
        }
    }

    #[inline]
    pub(crate) fn level(&self, n: NodeId) -> u8 {
        self.levels[n.idx()]
    }

    /// The entry point, `None` in an empty graph.
    #[inline]
    pub(crate) fn entry(&self) -> Option<NodeId> {
        (self.entry != NodeId::INVALID).then_some(self.entry)
    }

    #[inline]
    pub(crate) fn max_level(&self) -> u8 {
        self.max_level
    }

    /// Makes `n` (of level `level`, or no node) where searches start.
    pub(crate) fn set_entry(&mut self, n: Option<NodeId>, level: u8) {
        self.entry = n.unwrap_or(NodeId::INVALID);
        self.max_level = level;
    }

    /// Most links a node keeps at `level`.
    #[inline]
    pub(crate) fn cap(&self, level: u8) -> usize {
        if level == 0 { self.m0 } else { self.m }
    }

    #[inline]
    fn stride(&self, level: u8) -> usize {
        1 + self.cap(level)
    }

    /// Where `n`'s block at `level` starts, and in which array.
    #[inline]
    fn at(&self, n: NodeId, level: u8) -> (usize, bool) {
        if level == 0 {
            (n.idx() * (1 + self.m0), true)
        } else {
            (
                self.upper_off[n.idx()] as usize + (level as usize - 1) * (1 + self.m),
                false,
            )
        }
    }

    #[inline]
    fn array(&self, zero: bool) -> &[u32] {
        if zero { &self.level0 } else { &self.upper }
    }

    #[inline]
    fn array_mut(&mut self, zero: bool) -> &mut Vec<u32> {
        if zero {
            &mut self.level0
        } else {
            &mut self.upper
        }
    }

    /// `n`'s links at `level` (a level it has).
    #[inline]
    pub(crate) fn links(&self, n: NodeId, level: u8) -> Links<'_> {
        let (s, zero) = self.at(n, level);
        let buf = self.array(zero);
        let c = buf[s] as usize;
        buf[s + 1..s + 1 + c]
            .iter()
            .map(NodeId::from_link as fn(&u32) -> NodeId)
    }

    /// Hints that `n`'s links at `level` will be read soon.
    #[inline]
    pub(crate) fn prefetch(&self, n: NodeId, level: u8) {
        let (s, zero) = self.at(n, level);
        elex_simd::prefetch(self.array(zero).get(s..s + 1).unwrap_or(&[]), 1);
    }

    /// `n`'s whole block at `level`: the count and every slot, unused ones included (what an
    /// undo log saves so a rollback restores the bytes exactly).
    pub(crate) fn block(&self, n: NodeId, level: u8) -> &[u32] {
        let (s, zero) = self.at(n, level);
        &self.array(zero)[s..s + self.stride(level)]
    }

    /// Sets `n`'s links at `level` (at most the level's cap).
    pub(crate) fn set_links(&mut self, n: NodeId, level: u8, links: &[NodeId]) {
        let (s, zero) = self.at(n, level);
        let buf = self.array_mut(zero);
        buf[s] = links.len() as u32;
        for (slot, l) in buf[s + 1..s + 1 + links.len()].iter_mut().zip(links) {
            *slot = l.0;
        }
    }

    /// Writes back a block saved by [`Graph::block`].
    pub(crate) fn restore_block(&mut self, n: NodeId, level: u8, block: &[u32]) {
        let (s, zero) = self.at(n, level);
        self.array_mut(zero)[s..s + block.len()].copy_from_slice(block);
    }

    /// Appends a node of `level` with no links.
    pub(crate) fn push(&mut self, level: u8) -> NodeId {
        let n = NodeId(self.levels.len() as u32);
        self.levels.push(level);
        self.level0.extend(std::iter::repeat_n(0, 1 + self.m0));
        self.upper_off.push(self.upper.len() as u32);
        self.upper
            .extend(std::iter::repeat_n(0, level as usize * (1 + self.m)));
        n
    }

    /// Length of the upper-level array (a rollback point, with the slot count).
    pub(crate) fn upper_len(&self) -> usize {
        self.upper.len()
    }

    /// Keeps the first `slots` nodes (whose upper blocks end at `upper_len`).
    pub(crate) fn truncate(&mut self, slots: usize, upper_len: usize) {
        self.levels.truncate(slots);
        self.level0.truncate(slots * (1 + self.m0));
        self.upper_off.truncate(slots);
        self.upper.truncate(upper_len);
    }

    /// Room for `n` more nodes (their upper blocks excepted: their size is drawn per node).
    pub(crate) fn reserve_exact(&mut self, n: usize) -> Reserve {
        self.level0.try_reserve_exact(n * (1 + self.m0))?;
        elex_simd::advise_huge_pages(&self.level0);
        self.upper_off.try_reserve_exact(n)?;
        self.levels.try_reserve_exact(n)
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.levels.shrink_to_fit();
        self.level0.shrink_to_fit();
        self.upper.shrink_to_fit();
        self.upper_off.shrink_to_fit();
    }

    /// Heap bytes, by capacity.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.levels.capacity()
            + (self.level0.capacity() + self.upper.capacity() + self.upper_off.capacity()) * 4
    }

    // ---- snapshot -----------------------------------------------------------------------
    //
    // Three sections: the levels, level 0's blocks, the upper blocks. The reader decodes the
    // levels first, then (once the tombstones are known) `check_levels` lays out the upper
    // blocks; each block is checked as soon as its bytes are in (`check_blocks`).

    pub(crate) const LEVELS: usize = 0;
    pub(crate) const LEVEL0: usize = 1;
    pub(crate) const UPPER: usize = 2;

    pub(crate) fn section(&self, i: usize) -> Section<'_> {
        match i {
            Graph::LEVELS => Section::U8(&self.levels),
            Graph::LEVEL0 => Section::U32(&self.level0),
            _ => Section::U32(&self.upper),
        }
    }

    pub(crate) fn sink(&mut self, i: usize) -> Sink<'_> {
        match i {
            Graph::LEVELS => Sink::U8(&mut self.levels),
            Graph::LEVEL0 => Sink::U32(&mut self.level0),
            _ => Sink::U32(&mut self.upper),
        }
    }

    /// Elements of section `i` for `slots` nodes (the upper blocks' once the levels are in).
    pub(crate) fn section_len(&self, i: usize, slots: u64) -> u64 {
        match i {
            Graph::LEVELS => slots,
            Graph::LEVEL0 => slots * (1 + self.m0 as u64),
            _ => self.upper_units(),
        }
    }

    /// u32s of the upper blocks the decoded levels call for.
    pub(crate) fn upper_units(&self) -> u64 {
        self.levels.iter().map(|&l| l as u64).sum::<u64>() * (1 + self.m as u64)
    }

    /// An empty graph ready to decode `slots` nodes into.
    pub(crate) fn for_reading(m: usize, m0: usize, slots: usize) -> Graph {
        let mut g = Graph::new(m, m0);
        g.levels.reserve_exact(slots);
        g.level0.reserve_exact(slots * (1 + m0));
        g.upper_off.reserve_exact(slots);
        g
    }

    /// After the levels (and the tombstones) are in: every level is at most `MAX_LEVEL`, a
    /// live node's at most `max_level` (a tombstone may sit higher: the entry was replaced
    /// when it was deleted); lays out the upper blocks and reserves them.
    pub(crate) fn check_levels(
        &mut self,
        max_level: u8,
        deleted: impl Fn(NodeId) -> bool,
    ) -> Result<(), String> {
        let mut off = 0u64;
        for n in 0..self.levels.len() {
            let l = self.levels[n];
            if l > MAX_LEVEL || (l > max_level && !deleted(NodeId(n as u32))) {
                return Err(format!(
                    "live node {n} has level {l} above the max level {max_level}"
                ));
            }
            self.upper_off.push(off as u32);
            off += l as u64 * (1 + self.m as u64);
        }
        self.upper.reserve_exact(off as usize);
        Ok(())
    }

    /// Checks the blocks of section `i` completed since `*done` nodes were checked.
    pub(crate) fn check_blocks(&self, i: usize, done: &mut usize) -> Result<(), String> {
        if i == Graph::LEVEL0 {
            let stride = 1 + self.m0;
            while (*done + 1) * stride <= self.level0.len() {
                let s = *done * stride;
                self.check_block(&self.level0[s..s + stride], *done, 0)?;
                *done += 1;
            }
        } else if i == Graph::UPPER {
            let stride = 1 + self.m;
            while *done < self.levels.len() {
                let n = *done;
                let l = self.levels[n] as usize;
                let start = self.upper_off[n] as usize;
                if start + l * stride > self.upper.len() {
                    break;
                }
                for level in 0..l {
                    let s = start + level * stride;
                    self.check_block(&self.upper[s..s + stride], n, level as u8 + 1)?;
                }
                *done += 1;
            }
        }
        Ok(())
    }

    /// A link at level `l` must point to another node that has level `l`.
    fn check_block(&self, block: &[u32], node: usize, level: u8) -> Result<(), String> {
        let (c, cap) = (block[0] as usize, self.cap(level));
        if c > cap {
            return Err(format!("node {node} has {c} links, more than {cap}"));
        }
        let bad = |&x: &u32| {
            x as usize >= self.levels.len() || x as usize == node || self.levels[x as usize] < level
        };
        if block[1..=c].iter().any(bad) {
            return Err(format!(
                "node {node} has a link at level {level} to no node of that level"
            ));
        }
        Ok(())
    }

    /// The entry point read from a header, checked against the graph: `live` nodes need one,
    /// and it must be a node of `max_level`.
    pub(crate) fn check_entry(
        &mut self,
        entry: u32,
        max_level: u8,
        live: u64,
    ) -> Result<(), String> {
        let slots = self.levels.len() as u64;
        if slots == 0 && entry != u32::MAX {
            return Err("an empty index has an entry point".into());
        }
        if slots > 0 && entry != u32::MAX {
            if entry as u64 >= slots || self.levels[entry as usize] != max_level {
                return Err("the entry point is not a node of the max level".into());
            }
        } else if live > 0 {
            return Err("live vectors but no entry point".into());
        }
        self.entry = NodeId(entry);
        self.max_level = max_level;
        Ok(())
    }
}
