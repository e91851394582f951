//! The WGSL kernels, assembled per storage kind (the base buffer's element type differs).
//!
//! `scores`: one invocation per (base row, query) of a block computes the distance with vec4
//! loads; rows are zero-padded to a multiple of 4 components, which changes no dot product and
//! no L2 distance. f16 rows are packed two halves per u32 and widened with `unpack2x16float`, so
//! no shader-f16 feature is needed.
//!
//! `topk`: one workgroup of 64 per query scans the block's distances, each invocation keeping a
//! sorted private list of the k best `(distance, id)`; the 64 lists meet in workgroup memory and
//! one invocation merges them. Order: smaller distance first, equal distances by smaller id.

/// Largest k the kernel keeps per block (the workgroup memory holds 64 lists of this size).
pub const MAX_K: usize = 32;

const COMMON: &str = r#"
struct Params {
    n: u32,
    row_words: u32,
    queries: u32,
    metric: u32,
    k: u32,
    base_offset: u32,
    out_offset: u32,
    query_vec4s: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dist: array<f32>;

fn finish(acc: f32) -> f32 {
    // metric 0: cosine on unit vectors (1 - dot); 1: dot (-dot); 2: squared L2 (acc as is).
    if (p.metric == 0u) {
        return 1.0 - acc;
    }
    if (p.metric == 1u) {
        return -acc;
    }
    return acc;
}
"#;

const SCORES_F32: &str = r#"
@group(0) @binding(1) var<storage, read> base: array<vec4<f32>>;

@compute @workgroup_size(64)
fn scores(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x;
    let q = g.y;
    if (i >= p.n || q >= p.queries) {
        return;
    }
    let bo = i * p.row_words;
    let qo = q * p.query_vec4s;
    var acc = vec4<f32>(0.0);
    if (p.metric == 2u) {
        for (var w = 0u; w < p.query_vec4s; w++) {
            let t = base[bo + w] - queries[qo + w];
            acc += t * t;
        }
    } else {
        for (var w = 0u; w < p.query_vec4s; w++) {
            acc += base[bo + w] * queries[qo + w];
        }
    }
    dist[q * p.n + i] = finish(acc.x + acc.y + acc.z + acc.w);
}
"#;

const SCORES_F16: &str = r#"
@group(0) @binding(1) var<storage, read> base: array<vec2<u32>>;

@compute @workgroup_size(64)
fn scores(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x;
    let q = g.y;
    if (i >= p.n || q >= p.queries) {
        return;
    }
    let bo = i * p.row_words;
    let qo = q * p.query_vec4s;
    var acc = vec4<f32>(0.0);
    for (var w = 0u; w < p.query_vec4s; w++) {
        let packed = base[bo + w];
        let b = vec4<f32>(unpack2x16float(packed.x), unpack2x16float(packed.y));
        if (p.metric == 2u) {
            let t = b - queries[qo + w];
            acc += t * t;
        } else {
            acc += b * queries[qo + w];
        }
    }
    dist[q * p.n + i] = finish(acc.x + acc.y + acc.z + acc.w);
}
"#;

const TOPK: &str = r#"
@group(0) @binding(4) var<storage, read_write> out_d: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_i: array<u32>;

const MAXK: u32 = 32u;
const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;
const INF: f32 = 3.0e38;

var<workgroup> sd: array<f32, 2048>;
var<workgroup> si: array<u32, 2048>;

fn better(d: f32, id: u32, d2: f32, id2: u32) -> bool {
    return d < d2 || (d == d2 && id < id2);
}

@compute @workgroup_size(64)
fn topk(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
    let q = w.x;
    let t = l.x;
    var bd: array<f32, 32>;
    var bi: array<u32, 32>;
    for (var j = 0u; j < MAXK; j++) {
        bd[j] = INF;
        bi[j] = NONE;
    }
    let last = p.k - 1u;
    for (var i = t; i < p.n; i += WG) {
        let d = dist[q * p.n + i];
        let id = p.base_offset + i;
        if (better(d, id, bd[last], bi[last])) {
            var j = last;
            while (j > 0u && better(d, id, bd[j - 1u], bi[j - 1u])) {
                bd[j] = bd[j - 1u];
                bi[j] = bi[j - 1u];
                j -= 1u;
            }
            bd[j] = d;
            bi[j] = id;
        }
    }
    for (var j = 0u; j < MAXK; j++) {
        sd[t * MAXK + j] = bd[j];
        si[t * MAXK + j] = bi[j];
    }
    workgroupBarrier();
    if (t == 0u) {
        var heads: array<u32, 64>;
        for (var s = 0u; s < WG; s++) {
            heads[s] = 0u;
        }
        for (var r = 0u; r < p.k; r++) {
            var best = NONE;
            var dv = INF;
            var iv = NONE;
            for (var s = 0u; s < WG; s++) {
                let h = heads[s];
                if (h < p.k) {
                    let d = sd[s * MAXK + h];
                    let id = si[s * MAXK + h];
                    if (better(d, id, dv, iv)) {
                        dv = d;
                        iv = id;
                        best = s;
                    }
                }
            }
            out_d[p.out_offset + q * p.k + r] = dv;
            out_i[p.out_offset + q * p.k + r] = iv;
            if (best != NONE) {
                heads[best] += 1u;
            }
        }
    }
}
"#;

/// The scores module for f32 or f16 rows.
pub fn scores(f16: bool) -> String {
    format!("{COMMON}{}", if f16 { SCORES_F16 } else { SCORES_F32 })
}

/// The top-k module.
pub fn topk() -> String {
    format!("{COMMON}{TOPK}")
}
