//! Core errors to JS errors with a stable `code`.

use elex_qlearning::QError;
use wasm_bindgen::JsValue;

/// A JS `Error` (or `RangeError`) with `code` set.
pub(crate) fn js_error(code: &str, message: String, range: bool) -> JsValue {
    let e: js_sys::Error = if range {
        js_sys::RangeError::new(&message).into()
    } else {
        js_sys::Error::new(&message)
    };
    let _ = js_sys::Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

pub(crate) fn q_error(e: QError) -> JsValue {
    let (code, range) = match &e {
        QError::StateOutOfRange { .. } => ("STATE_OUT_OF_RANGE", true),
        QError::ActionOutOfRange { .. } => ("ACTION_OUT_OF_RANGE", true),
        QError::NonFiniteReward { .. } => ("NON_FINITE_REWARD", true),
        QError::GammaOutOfRange(_) => ("GAMMA_OUT_OF_RANGE", true),
        QError::AlphaOutOfRange(_) => ("ALPHA_OUT_OF_RANGE", true),
        QError::InvalidPolicy(_) => ("INVALID_POLICY", true),
        QError::InvalidTable(_) => ("INVALID_TABLE", true),
        QError::BatchShape(_) => ("BATCH_SHAPE", false),
        QError::BadMagic => ("BAD_MAGIC", false),
        QError::UnsupportedVersion { .. } => ("UNSUPPORTED_VERSION", false),
        QError::Truncated { .. } => ("TRUNCATED", false),
        QError::ChecksumMismatch => ("CHECKSUM_MISMATCH", false),
        QError::Corrupt(_) => ("CORRUPT", false),
        QError::Entropy(_) => ("NO_ENTROPY", false),
    };
    js_error(code, e.to_string(), range)
}
