//! Core errors to JS errors with a stable `code`.

use wasm_bindgen::{JsCast, JsValue};

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

#[cfg(feature = "full")]
pub(crate) fn q_error(e: elex_qlearning::QError) -> JsValue {
    use elex_qlearning::QError;
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

pub(crate) fn hnsw_error(e: elex_hnsw::HnswError) -> JsValue {
    use elex_hnsw::HnswError as H;
    let (code, range) = match &e {
        H::DimensionMismatch { .. } => ("DIMENSION_MISMATCH", true),
        H::NonFinite { .. } => ("NON_FINITE", true),
        H::ZeroVector => ("ZERO_VECTOR", true),
        H::ZeroK => ("ZERO_K", true),
        H::ValueTooLarge(_) => ("VALUE_TOO_LARGE", true),
        H::KTooLarge { .. } => ("K_TOO_LARGE", true),
        H::EfTooSmall { .. } => ("EF_TOO_SMALL", true),
        H::DuplicateId(_) => ("DUPLICATE_ID", false),
        H::UnknownId(_) => ("UNKNOWN_ID", false),
        H::BatchShape { .. } => ("BATCH_SHAPE", true),
        H::InvalidParams(_) => ("INVALID_OPTIONS", true),
        H::Full(_) => ("INDEX_FULL", false),
        H::BadMagic => ("BAD_MAGIC", false),
        H::UnsupportedVersion { .. } => ("UNSUPPORTED_VERSION", false),
        H::Truncated { .. } => ("TRUNCATED", false),
        H::TooLarge(_) => ("TOO_LARGE", false),
        H::ChecksumMismatch { .. } => ("CHECKSUM_MISMATCH", false),
        H::Corrupt(_) => ("CORRUPT", false),
        H::Io(_) => ("IO", false),
        H::Busy(_) => ("BUSY", false),
        H::OutOfMemory(_) => ("OUT_OF_MEMORY", true),
        H::BudgetTooSmall { .. } => ("BUDGET_TOO_SMALL", true),
        H::RowStore(_) => ("ROW_STORE", false),
    };
    js_error(code, e.to_string(), range)
}

pub(crate) fn text_error(e: elex_text::TextError) -> JsValue {
    use elex_text::TextError as T;
    let (code, range) = match &e {
        T::ZeroK => ("ZERO_K", true),
        T::DuplicateId(_) => ("DUPLICATE_ID", false),
        T::UnknownId(_) => ("UNKNOWN_ID", false),
        T::BatchShape { .. } => ("BATCH_SHAPE", true),
        T::TextTooLarge { .. } => ("VALUE_TOO_LARGE", true),
        T::InvalidParams(_) => ("INVALID_OPTIONS", true),
        T::Full(_) => ("INDEX_FULL", false),
        T::Busy(_) => ("BUSY", false),
        T::BadMagic => ("BAD_MAGIC", false),
        T::UnsupportedVersion { .. } => ("UNSUPPORTED_VERSION", false),
        T::Truncated { .. } => ("TRUNCATED", false),
        T::ChecksumMismatch => ("CHECKSUM_MISMATCH", false),
        T::Corrupt(_) => ("CORRUPT", false),
    };
    js_error(code, e.to_string(), range)
}

#[cfg(feature = "full")]
pub(crate) fn cache_error(e: elex_cache::CacheError) -> JsValue {
    use elex_cache::{CacheError as C, StoreErrorKind as K};
    let (code, range) = match &e {
        C::ZeroBudget => ("ZERO_BUDGET", true),
        C::EntryTooLarge { .. } => ("ENTRY_TOO_LARGE", true),
        C::ZeroWeight => ("ZERO_WEIGHT", true),
        C::WeigherInconsistent { .. } => ("WEIGHT_CHANGED", false),
        C::InvalidConfig(_) => ("INVALID_OPTIONS", true),
        C::Store { kind, .. } => (
            match kind {
                K::QuotaExceeded => "QUOTA_EXCEEDED",
                K::Closed => "DB_CLOSED",
                K::Io => "IDB_ERROR",
                K::Corrupt => "CORRUPT",
            },
            false,
        ),
    };
    js_error(code, e.to_string(), range)
}

/// A `TypeError` for arguments of the wrong shape.
pub(crate) fn type_error(code: &str, message: impl Into<String>) -> JsValue {
    let e: js_sys::Error = js_sys::TypeError::new(&message.into()).into();
    let _ = js_sys::Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

#[cfg(feature = "full")]
/// The `code` of a JS error, if it has one.
pub(crate) fn code_of(e: &JsValue) -> Option<String> {
    js_sys::Reflect::get(e, &JsValue::from_str("code"))
        .ok()
        .and_then(|c| c.as_string())
}

/// Rejects option objects with keys outside `known` (a typo should not pass silently; the
/// readers only read the fields they know).
pub(crate) fn check_keys(options: &JsValue, what: &str, known: &[&str]) -> Result<(), JsValue> {
    if !options.is_object() {
        return Err(type_error(
            "INVALID_OPTIONS",
            format!("{what}: expected an object"),
        ));
    }
    let object: &js_sys::Object = options.unchecked_ref();
    for k in js_sys::Object::keys(object).iter() {
        let k = k.as_string().unwrap_or_default();
        if !known.contains(&k.as_str()) {
            return Err(type_error(
                "INVALID_OPTIONS",
                format!(
                    "{what}: unknown option \"{k}\" (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}
