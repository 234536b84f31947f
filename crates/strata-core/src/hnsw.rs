//! A hierarchical navigable small world graph (Malkov & Yashunin, 2016) for approximate nearest-neighbour search.
//!
//! Nodes are numbered in insertion order and never move: a deleted node is only marked, so the graph stays
//! connected through it, and searches skip it in their results (the owner rebuilds once most nodes are deleted).
//! The vectors sit in one contiguous `Vec<f32>` so a distance is a tight loop over two slices. A node's level comes
//! from a hash its owner supplies, so the same inserts build the same graph on every target, without a random
//! number generator.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Links per node above layer 0; layer 0 keeps twice as many, as the paper recommends.
const M: usize = 16;
const M0: usize = 2 * M;
/// Candidates kept while linking a new node: higher builds a better graph, slower.
const EF_CONSTRUCTION: usize = 128;
/// Levels above this are so unlikely (16^-15) that capping them changes nothing.
const MAX_LEVEL: usize = 15;

/// What the graph minimises. Cosine vectors are normalised on the way in, so cosine is a dot product too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Squared euclidean distance: same order as the distance, without the square root.
    SquaredL2,
    /// The negated dot product, so that smaller is closer.
    NegDot,
}

/// A node and its distance to the query at hand, ordered by distance then node (a total order for the heaps).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Near(f32, u32);

impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// One bit per node: which ones a search has looked at.
struct Visited(Vec<u64>);

impl Visited {
    fn new(n: usize) -> Visited {
        Visited(vec![0; n.div_ceil(64)])
    }

    /// Marks `i`; returns whether it was unmarked.
    fn insert(&mut self, i: u32) -> bool {
        let (word, bit) = (i as usize / 64, 1u64 << (i % 64));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

#[derive(Clone)]
pub struct Graph {
    dim: usize,
    distance: Distance,
    data: Vec<f32>,
    levels: Vec<u8>,
    /// Layer-0 links: per node, a count then `M0` slots.
    layer0: Vec<u32>,
    /// Links above layer 0: per node, `M + 1` slots (count, links) per level from 1 up; empty for most nodes.
    upper: Vec<Vec<u32>>,
    deleted: Vec<bool>,
    deleted_count: usize,
    entry: Option<u32>,
}

/// Chunks of 16 components as arrays, so the loops over them have no bounds checks and vectorise.
fn lanes<'a>(a: &'a [f32], b: &'a [f32]) -> impl Iterator<Item = (&'a [f32; 16], &'a [f32; 16])> {
    let arrays = |s: &'a [f32]| s.chunks_exact(16).map(|c| <&[f32; 16]>::try_from(c).expect("16 components"));
    arrays(a).zip(arrays(b))
}

/// Dot product in 16 independent lanes, which the compiler turns into SIMD on every target.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in lanes(a, b) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| (x - y) * (x - y)).sum();
    for (x, y) in lanes(a, b) {
        for i in 0..16 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The level of a node whose hash is `h`: level `l` with probability (1/M)^l (1 - 1/M), the paper's
/// `floor(-ln(U) / ln(M))`, read from the hash's trailing zero bits four at a time (M = 16).
fn level(h: u64) -> usize {
    (h.trailing_zeros() as usize / M.trailing_zeros() as usize).min(MAX_LEVEL)
}

impl Graph {
    pub fn new(dim: usize, distance: Distance) -> Graph {
        Graph {
            dim,
            distance,
            data: Vec::new(),
            levels: Vec::new(),
            layer0: Vec::new(),
            upper: Vec::new(),
            deleted: Vec::new(),
            deleted_count: 0,
            entry: None,
        }
    }

    /// Nodes ever inserted, deleted ones included.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn deleted_count(&self) -> usize {
        self.deleted_count
    }

    pub fn vector(&self, i: u32) -> &[f32] {
        &self.data[i as usize * self.dim..(i as usize + 1) * self.dim]
    }

    fn dist(&self, q: &[f32], i: u32) -> f32 {
        match self.distance {
            Distance::SquaredL2 => squared_l2(q, self.vector(i)),
            Distance::NegDot => -dot(q, self.vector(i)),
        }
    }

    fn links(&self, i: u32, layer: usize) -> &[u32] {
        let slots = match layer {
            0 => &self.layer0[i as usize * (M0 + 1)..(i as usize + 1) * (M0 + 1)],
            l => &self.upper[i as usize][(l - 1) * (M + 1)..l * (M + 1)],
        };
        &slots[1..1 + slots[0] as usize]
    }

    fn set_links(&mut self, i: u32, layer: usize, links: &[u32]) {
        let slots = match layer {
            0 => &mut self.layer0[i as usize * (M0 + 1)..(i as usize + 1) * (M0 + 1)],
            l => &mut self.upper[i as usize][(l - 1) * (M + 1)..l * (M + 1)],
        };
        slots[0] = links.len() as u32;
        slots[1..1 + links.len()].copy_from_slice(links);
    }

    pub fn delete(&mut self, i: u32) {
        if !self.deleted[i as usize] {
            self.deleted[i as usize] = true;
            self.deleted_count += 1;
        }
    }

    /// Adds `v` (already prepared for the distance: normalised for cosine) as a new node; returns its number.
    pub fn insert(&mut self, v: &[f32], hash: u64) -> u32 {
        let node = self.levels.len() as u32;
        let top = level(hash);
        self.data.extend_from_slice(v);
        self.levels.push(top as u8);
        self.layer0.extend(std::iter::repeat_n(0, M0 + 1));
        self.upper.push(vec![0; top * (M + 1)]);
        self.deleted.push(false);
        let Some(entry) = self.entry else {
            self.entry = Some(node);
            return node;
        };
        let entry_level = self.levels[entry as usize] as usize;
        let mut ep = Near(self.dist(v, entry), entry);
        for layer in (top + 1..=entry_level).rev() {
            ep = self.greedy(v, ep, layer);
        }
        let mut eps = vec![ep];
        for layer in (0..=top.min(entry_level)).rev() {
            let found = self.search_layer(v, &eps, EF_CONSTRUCTION, layer, false);
            let max = if layer == 0 { M0 } else { M };
            let chosen = self.select(&found, M);
            let links: Vec<u32> = chosen.iter().map(|n| n.1).collect();
            self.set_links(node, layer, &links);
            for &n in &links {
                self.link(n, node, layer, max);
            }
            eps = found;
        }
        if top > entry_level {
            self.entry = Some(node);
        }
        node
    }

    /// Adds a link from `from` to `to`; a full list keeps the best `max` by the selection heuristic.
    fn link(&mut self, from: u32, to: u32, layer: usize, max: usize) {
        let current = self.links(from, layer);
        if current.len() < max {
            let mut links = current.to_vec();
            links.push(to);
            self.set_links(from, layer, &links);
            return;
        }
        let base = self.vector(from).to_vec();
        let mut candidates: Vec<Near> = current.iter().chain([&to]).map(|&n| Near(self.dist(&base, n), n)).collect();
        candidates.sort_unstable();
        let kept: Vec<u32> = self.select(&candidates, max).iter().map(|n| n.1).collect();
        self.set_links(from, layer, &kept);
    }

    /// The paper's neighbour selection heuristic (algorithm 4): a candidate is kept only if it is closer to the
    /// base than to every neighbour kept so far, so links point in diverse directions and clusters stay
    /// connected to each other. `candidates` are sorted by distance to the base.
    fn select(&self, candidates: &[Near], max: usize) -> Vec<Near> {
        let mut kept: Vec<Near> = Vec::with_capacity(max);
        for &c in candidates {
            if kept.len() == max {
                break;
            }
            let v = self.vector(c.1);
            if kept.iter().all(|k| self.dist(v, k.1) > c.0) {
                kept.push(c);
            }
        }
        kept
    }

    /// Walks `layer` from `ep` to the closest node it can reach by always moving closer.
    fn greedy(&self, q: &[f32], mut ep: Near, layer: usize) -> Near {
        loop {
            let mut moved = false;
            for &n in self.links(ep.1, layer) {
                let d = self.dist(q, n);
                if d < ep.0 {
                    ep = Near(d, n);
                    moved = true;
                }
            }
            if !moved {
                return ep;
            }
        }
    }

    /// The `ef` nodes of `layer` closest to `q` that a best-first search from `eps` finds, sorted, closest first.
    /// With `live_only`, deleted nodes are walked through but not returned, and the search goes on until it has
    /// `ef` live ones (or has seen everything reachable).
    fn search_layer(&self, q: &[f32], eps: &[Near], ef: usize, layer: usize, live_only: bool) -> Vec<Near> {
        let mut visited = Visited::new(self.len());
        let mut candidates: BinaryHeap<std::cmp::Reverse<Near>> = BinaryHeap::new();
        let mut found: BinaryHeap<Near> = BinaryHeap::new();
        let usable = |n: u32| !live_only || !self.deleted[n as usize];
        for &ep in eps {
            if visited.insert(ep.1) {
                candidates.push(std::cmp::Reverse(ep));
                if usable(ep.1) {
                    found.push(ep);
                }
            }
        }
        while found.len() > ef {
            found.pop();
        }
        let mut bound = found.peek().map_or(f32::INFINITY, |n| n.0);
        while let Some(std::cmp::Reverse(c)) = candidates.pop() {
            if c.0 > bound && found.len() >= ef {
                break;
            }
            for &n in self.links(c.1, layer) {
                if !visited.insert(n) {
                    continue;
                }
                let d = self.dist(q, n);
                if found.len() < ef || d < bound {
                    candidates.push(std::cmp::Reverse(Near(d, n)));
                    if usable(n) {
                        found.push(Near(d, n));
                        if found.len() > ef {
                            found.pop();
                        }
                        bound = found.peek().map_or(f32::INFINITY, |n| n.0);
                    }
                }
            }
        }
        found.into_sorted_vec()
    }

    /// The (at most) `ef` live nodes closest to `q` that the search finds, closest first.
    pub fn search(&self, q: &[f32], ef: usize) -> Vec<u32> {
        let Some(entry) = self.entry else { return Vec::new() };
        let mut ep = Near(self.dist(q, entry), entry);
        for layer in (1..=self.levels[entry as usize] as usize).rev() {
            ep = self.greedy(q, ep, layer);
        }
        self.search_layer(q, &[ep], ef, 0, true).into_iter().map(|n| n.1).collect()
    }
}
