//! elex-gpu: exact batched k-nearest-neighbour search on the GPU through wgpu — Metal on macOS,
//! Vulkan on Linux (lavapipe in CI), WebGPU in browsers.
//!
//! Many queries against N stored vectors, f32 or f16, cosine / dot / squared L2, with elex-hnsw's
//! distances and order (smaller distance first, equal distances by smaller id). The base is cut
//! into blocks of up to 8,192 rows; per block and batch of queries one dispatch computes every
//! distance and a second keeps each query's k best on the GPU (see [`shaders`]); the CPU merges the
//! per-block lists. [`cpu::exact_knn`] is the oracle: the same inputs, elex-simd's kernels.
//!
//! Use it for ground truth and for exact re-ranking next to an HNSW index
//! ([`GpuKnn::from_index`]). Distances agree with the CPU within
//! [`tolerance`]: the GPU sums in another order (vec4 lanes), so scores may differ by a few ulps
//! and ids whose distances lie that close may swap; ids separated by more are identical.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cpu;
mod error;
pub mod shaders;

use std::sync::{Arc, Mutex};

pub use elex_hnsw::{Hit, Metric};
pub use error::GpuError;
use wgpu::util::DeviceExt;

/// How the base vectors are stored on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuStorage {
    /// 4 bytes per component.
    F32,
    /// 2 bytes per component (IEEE half), widened in the shader.
    F16,
}

const BLOCK_ROWS: usize = 8192;
const MAX_QUERY_BATCH: usize = 1024;

/// The stated bound on `|gpu − cpu|` for one distance: `4·(dims + 4)·ε·Σ|terms|` with
/// ε = 2⁻²⁴, where the terms are the products (dot, cosine) or squared differences (L2).
pub fn tolerance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    let terms: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| match metric {
            Metric::L2 => f64::from(x - y).powi(2),
            _ => (f64::from(x) * f64::from(y)).abs(),
        })
        .sum();
    (4.0 * (a.len() as f64 + 4.0) * f64::from(f32::EPSILON) / 2.0 * terms) as f32 + 1e-7
}

/// A GPU device with the kNN pipelines compiled.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: String,
    scores_layout: wgpu::BindGroupLayout,
    topk_layout: wgpu::BindGroupLayout,
    scores_f32: wgpu::ComputePipeline,
    scores_f16: wgpu::ComputePipeline,
    topk: wgpu::ComputePipeline,
    max_binding: u64,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform_entry() -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl Gpu {
    /// Opens the first high-performance adapter (`WGPU_BACKEND` and friends are honoured) and
    /// compiles the kernels.
    pub async fn new() -> Result<Gpu, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("elex-gpu"),
                required_limits: wgpu::Limits {
                    max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                    max_buffer_size: limits.max_buffer_size,
                    ..wgpu::Limits::downlevel_defaults()
                },
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let scores_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("scores"),
            entries: &[
                uniform_entry(),
                storage_entry(1, true),
                storage_entry(2, true),
                storage_entry(3, false),
            ],
        });
        let topk_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("topk"),
            entries: &[
                uniform_entry(),
                storage_entry(3, false),
                storage_entry(4, false),
                storage_entry(5, false),
            ],
        });
        let pipeline = |src: String, layout: &wgpu::BindGroupLayout, entry: &str| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(entry),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
            let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(entry),
                bind_group_layouts: &[Some(layout)],
                immediate_size: 0,
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pl),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let scores_f32 = pipeline(shaders::scores(false), &scores_layout, "scores");
        let scores_f16 = pipeline(shaders::scores(true), &scores_layout, "scores");
        let topk = pipeline(shaders::topk(), &topk_layout, "topk");
        Ok(Gpu {
            adapter: format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type),
            max_binding: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
            device,
            queue,
            scores_layout,
            topk_layout,
            scores_f32,
            scores_f16,
            topk,
        })
    }

    /// [`Gpu::new`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking() -> Result<Gpu, GpuError> {
        pollster::block_on(Gpu::new())
    }

    /// The adapter's name, backend and kind.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }
}

/// Validates and prepares vectors as the GPU holds them: finite, normalized for cosine, rounded
/// to f16 for f16 storage. [`cpu::exact_knn`] on prepared data is the oracle.
pub fn prepare(
    data: &[f32],
    dims: usize,
    metric: Metric,
    storage: GpuStorage,
) -> Result<Vec<f32>, GpuError> {
    if dims == 0 {
        return Err(GpuError::Empty);
    }
    if !data.len().is_multiple_of(dims) {
        return Err(GpuError::Shape {
            expected: dims,
            got: data.len(),
        });
    }
    if let Some(index) = data.iter().position(|x| !x.is_finite()) {
        return Err(GpuError::NonFinite { index });
    }
    let mut out = data.to_vec();
    if metric == Metric::Cosine {
        for (i, row) in out.chunks_exact_mut(dims).enumerate() {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm == 0.0 || !norm.is_finite() {
                return Err(GpuError::ZeroVector(i));
            }
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
    if storage == GpuStorage::F16 {
        out.iter_mut()
            .for_each(|x| *x = half::f16::from_f32(*x).to_f32());
    }
    Ok(out)
}

/// Rows padded to a multiple of 4 components.
fn pad4(data: &[f32], dims: usize) -> Vec<f32> {
    let stride = dims.div_ceil(4) * 4;
    let mut out = vec![0f32; data.len() / dims * stride];
    for (row, dst) in data.chunks_exact(dims).zip(out.chunks_exact_mut(stride)) {
        dst[..dims].copy_from_slice(row);
    }
    out
}

struct Block {
    buffer: wgpu::Buffer,
    rows: usize,
    first: usize,
}

/// A base set uploaded to the GPU, ready for exact searches.
pub struct GpuKnn<'g> {
    gpu: &'g Gpu,
    dims: usize,
    metric: Metric,
    storage: GpuStorage,
    n: usize,
    blocks: Vec<Block>,
}

impl<'g> GpuKnn<'g> {
    /// Uploads `base` (row-major, `dims` per row); ids are row numbers.
    pub fn upload(
        gpu: &'g Gpu,
        base: &[f32],
        dims: usize,
        metric: Metric,
        storage: GpuStorage,
    ) -> Result<GpuKnn<'g>, GpuError> {
        let prepared = prepare(base, dims, metric, storage)?;
        let n = prepared.len() / dims;
        if n == 0 {
            return Err(GpuError::Empty);
        }
        if n > u32::MAX as usize - 1 {
            return Err(GpuError::TooLarge(format!("{n} vectors; at most 2^32 - 2")));
        }
        let stride = dims.div_ceil(4) * 4;
        let row_bytes = (stride * if storage == GpuStorage::F16 { 2 } else { 4 }) as u64;
        let rows_per_block = (BLOCK_ROWS as u64).min(gpu.max_binding / row_bytes) as usize;
        if rows_per_block == 0 {
            return Err(GpuError::TooLarge(format!(
                "one row of {row_bytes} bytes exceeds the device's binding limit"
            )));
        }
        let padded = pad4(&prepared, dims);
        let mut blocks = Vec::new();
        for (b, chunk) in padded.chunks(rows_per_block * stride).enumerate() {
            let contents: Vec<u8> = match storage {
                GpuStorage::F32 => bytemuck::cast_slice(chunk).to_vec(),
                GpuStorage::F16 => chunk
                    .iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_bits().to_le_bytes())
                    .collect(),
            };
            let buffer = gpu
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("base block"),
                    contents: &contents,
                    usage: wgpu::BufferUsages::STORAGE,
                });
            blocks.push(Block {
                buffer,
                rows: chunk.len() / stride,
                first: b * rows_per_block,
            });
        }
        Ok(GpuKnn {
            gpu,
            dims,
            metric,
            storage,
            n,
            blocks,
        })
    }

    /// Uploads every live vector of an HNSW index (ids are the index's ids), for exact
    /// re-ranking and ground truth beside it.
    pub fn from_index(
        gpu: &'g Gpu,
        index: &elex_hnsw::Hnsw,
        storage: GpuStorage,
    ) -> Result<(GpuKnn<'g>, Vec<u64>), GpuError> {
        let ids: Vec<u64> = index.ids().collect();
        let mut flat = Vec::with_capacity(ids.len() * index.dims());
        for &id in &ids {
            flat.extend(
                index
                    .get(id)
                    .map_err(|e| GpuError::Readback(e.to_string()))?,
            );
        }
        let metric = index.params().metric;
        Ok((
            GpuKnn::upload(gpu, &flat, index.dims(), metric, storage)?,
            ids,
        ))
    }

    /// Base vectors.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the base is empty (never: uploads reject empty sets).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Queries as the GPU sees them (normalized for cosine; queries stay f32).
    pub fn prepare_queries(&self, queries: &[f32]) -> Result<Vec<f32>, GpuError> {
        prepare(queries, self.dims, self.metric, GpuStorage::F32)
    }

    /// Exact top-k of every query (row-major, `dims` per row).
    pub async fn search(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>, GpuError> {
        if k == 0 || k > shaders::MAX_K || k > self.n {
            return Err(GpuError::BadK {
                k,
                max: shaders::MAX_K,
                n: self.n,
            });
        }
        let q = self.prepare_queries(queries)?;
        let nq = q.len() / self.dims;
        let padded = pad4(&q, self.dims);
        let stride = self.dims.div_ceil(4) * 4;
        let mut out = Vec::with_capacity(nq);
        let batch = MAX_QUERY_BATCH
            .min((self.gpu.max_binding / (BLOCK_ROWS as u64 * 4)) as usize)
            .max(1);
        for chunk in padded.chunks(batch * stride) {
            out.extend(self.search_batch(chunk, chunk.len() / stride, k).await?);
        }
        Ok(out)
    }

    /// [`GpuKnn::search`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn search_blocking(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>, GpuError> {
        pollster::block_on(self.search(queries, k))
    }

    async fn search_batch(
        &self,
        queries: &[f32],
        nq: usize,
        k: usize,
    ) -> Result<Vec<Vec<Hit>>, GpuError> {
        let g = self.gpu;
        let d = &g.device;
        let stride = self.dims.div_ceil(4) * 4;
        let qbuf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("queries"),
            contents: bytemuck::cast_slice(queries),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let max_rows = self.blocks.iter().map(|b| b.rows).max().unwrap_or(0);
        let dist = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("distances"),
            size: (nq * max_rows * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let out_len = (self.blocks.len() * nq * k * 4) as u64;
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let out_d = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("top-k distances"),
            size: out_len,
            usage,
            mapped_at_creation: false,
        });
        let out_i = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("top-k ids"),
            size: out_len,
            usage,
            mapped_at_creation: false,
        });
        let read = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: out_len * 2,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        let metric = match self.metric {
            Metric::Cosine => 0u32,
            Metric::Dot => 1,
            Metric::L2 => 2,
        };
        // A row is stride/4 vec4<f32> (f32) or stride/4 vec2<u32> of four halves (f16).
        let row_words = (stride / 4) as u32;
        let scores = match self.storage {
            GpuStorage::F32 => &g.scores_f32,
            GpuStorage::F16 => &g.scores_f16,
        };
        let mut keep = Vec::new();
        for (bi, block) in self.blocks.iter().enumerate() {
            let params: [u32; 8] = [
                block.rows as u32,
                row_words,
                nq as u32,
                metric,
                k as u32,
                block.first as u32,
                (bi * nq * k) as u32,
                (stride / 4) as u32,
            ];
            let ubuf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::cast_slice(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let sbg = d.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("scores"),
                layout: &g.scores_layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: ubuf.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: block.buffer.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: qbuf.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: dist.as_entire_binding(),
                    },
                ],
            });
            let tbg = d.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("topk"),
                layout: &g.topk_layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: ubuf.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: dist.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: out_d.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 5,
                        resource: out_i.as_entire_binding(),
                    },
                ],
            });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("knn"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(scores);
                pass.set_bind_group(0, &sbg, &[]);
                pass.dispatch_workgroups(block.rows.div_ceil(64) as u32, nq as u32, 1);
                pass.set_pipeline(&g.topk);
                pass.set_bind_group(0, &tbg, &[]);
                pass.dispatch_workgroups(nq as u32, 1, 1);
            }
            keep.push((ubuf, sbg, tbg));
        }
        enc.copy_buffer_to_buffer(&out_d, 0, &read, 0, out_len);
        enc.copy_buffer_to_buffer(&out_i, 0, &read, out_len, out_len);
        g.queue.submit([enc.finish()]);
        let bytes = map_read(d, &read).await?;
        drop(keep);
        let (dbytes, ibytes) = bytes.split_at(out_len as usize);
        let dists: &[f32] = bytemuck::cast_slice(dbytes);
        let ids: &[u32] = bytemuck::cast_slice(ibytes);
        let mut out = Vec::with_capacity(nq);
        for qi in 0..nq {
            let mut cand: Vec<Hit> = Vec::with_capacity(self.blocks.len() * k);
            for bi in 0..self.blocks.len() {
                let o = bi * nq * k + qi * k;
                for r in 0..k {
                    if ids[o + r] != u32::MAX {
                        cand.push(Hit {
                            id: u64::from(ids[o + r]),
                            distance: dists[o + r],
                        });
                    }
                }
            }
            cand.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.id.cmp(&b.id)));
            cand.truncate(k);
            out.push(cand);
        }
        Ok(out)
    }
}

/// Maps a buffer for reading and copies it out; on native the device is polled until done, on
/// the web the browser completes the mapping and the future wakes.
async fn map_read(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
    let state: Arc<Mutex<MapState>> = Arc::new(Mutex::new(MapState::default()));
    let s = state.clone();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let mut st = s.lock().unwrap_or_else(|e| e.into_inner());
        st.result = Some(r.map_err(|e| e.to_string()));
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    });
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    #[cfg(target_arch = "wasm32")]
    let _ = device;
    MapFuture(state).await.map_err(GpuError::Readback)?;
    let bytes = buffer
        .get_mapped_range(..)
        .map_err(|e| GpuError::Readback(e.to_string()))?
        .to_vec();
    buffer.unmap();
    Ok(bytes)
}

#[derive(Default)]
struct MapState {
    result: Option<Result<(), String>>,
    waker: Option<std::task::Waker>,
}

struct MapFuture(Arc<Mutex<MapState>>);

impl std::future::Future for MapFuture {
    type Output = Result<(), String>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let mut st = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match st.result.take() {
            Some(r) => std::task::Poll::Ready(r),
            None => {
                st.waker = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}
