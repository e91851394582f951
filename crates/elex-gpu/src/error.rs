//! The one error type of the GPU path.

/// Errors from setting up the GPU and from bad input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpuError {
    /// No GPU adapter (no driver, or none for the requested backend).
    #[error(
        "no GPU adapter available ({0}); on Linux install a Vulkan driver (mesa-vulkan-drivers gives the software lavapipe), or use the CPU path"
    )]
    NoAdapter(String),
    /// The adapter refused to create a device.
    #[error("the GPU adapter refused to create a device: {0}")]
    Device(String),
    /// A vector's length is not the set's dimension.
    #[error("dimension mismatch: expected {expected} values per vector, got {got} in total")]
    Shape {
        /// Dimension.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// Zero dimensions or an empty base.
    #[error("the base set is empty or has zero dimensions")]
    Empty,
    /// A component is NaN or infinite.
    #[error("value {index} is NaN or infinite")]
    NonFinite {
        /// Position of the first bad value.
        index: usize,
    },
    /// Cosine needs a direction.
    #[error("vector {0} is the zero vector, which has no direction under cosine")]
    ZeroVector(usize),
    /// k out of range.
    #[error("k = {k} must be between 1 and {max} (and at most the {n} base vectors)")]
    BadK {
        /// Requested k.
        k: usize,
        /// The kernel's largest k.
        max: usize,
        /// Base vectors.
        n: usize,
    },
    /// The set does not fit the device's buffers.
    #[error("the data does not fit this device: {0}")]
    TooLarge(String),
    /// Reading results back failed.
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
}
