//! Arguments as they cross from JS: every number, count, array and string a method takes comes
//! in as a `JsValue` and is checked here, so a wrong type is a coded `TypeError`
//! (`INVALID_ARGUMENT`) and an out-of-range value a coded `RangeError`, never the silent
//! coercion of wasm-bindgen's glue (`-1` as a `u32` is 4294967295, `null` as an `f64` is 0).

use wasm_bindgen::{JsCast, JsValue};

use crate::error::{js_error, type_error};

/// The largest integer a JS number holds exactly.
pub(crate) const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

fn kind(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if v.is_undefined() {
        "undefined".into()
    } else if let Some(o) = v.dyn_ref::<js_sys::Object>() {
        let name = o.constructor().name();
        if name.length() > 0 {
            String::from(name)
        } else {
            "object".into()
        }
    } else {
        v.js_typeof().as_string().unwrap_or_else(|| "value".into())
    }
}

/// A number as JS writes it (`String(x)`): what the caller passed, in the caller's notation,
/// without Rust's float formatting in the module.
pub(crate) fn num(x: f64) -> String {
    js_sys::Number::from(x)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// The fields of an options object (its keys already checked by
/// [`crate::error::check_keys`]): `undefined` and `null` are absent; a field of the wrong type
/// is an `INVALID_OPTIONS` `TypeError` naming it.
pub(crate) struct Fields<'a> {
    pub obj: &'a JsValue,
    pub what: &'static str,
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<JsValue> {
        js_sys::Reflect::get(self.obj, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    }

    fn bad(&self, key: &str, expected: &str, got: &JsValue) -> JsValue {
        let got = match got.as_f64() {
            Some(x) => num(x),
            None => kind(got),
        };
        type_error(
            "INVALID_OPTIONS",
            format!("{}: `{key}` must be {expected}, got {got}", self.what),
        )
    }

    /// A whole number in `0..=u32::MAX`.
    pub(crate) fn count(&self, key: &str) -> Result<Option<usize>, JsValue> {
        self.get(key)
            .map(|v| match v.as_f64() {
                Some(x) if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) => {
                    Ok(x as usize)
                }
                _ => Err(self.bad(key, "a whole number in 0..=4294967295", &v)),
            })
            .transpose()
    }

    /// A number (any; the caller checks its range).
    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>, JsValue> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| self.bad(key, "a number", &v)))
            .transpose()
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, JsValue> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.bad(key, "a boolean", &v)))
            .transpose()
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        self.get(key)
            .map(|v| v.as_string().ok_or_else(|| self.bad(key, "a string", &v)))
            .transpose()
    }
}

/// A `TypeError` with code `INVALID_ARGUMENT`.
pub(crate) fn wrong_type(what: &str, expected: &str, got: &JsValue) -> JsValue {
    type_error(
        "INVALID_ARGUMENT",
        format!("{what} must be {expected}, got {}", kind(got)),
    )
}

/// A `RangeError` with code `OUT_OF_RANGE`.
pub(crate) fn out_of_range(what: &str, message: impl std::fmt::Display) -> JsValue {
    js_error("OUT_OF_RANGE", format!("{what} {message}"), true)
}

/// A JS number (not a string, not null).
pub(crate) fn number(v: &JsValue, what: &str) -> Result<f64, JsValue> {
    v.as_f64().ok_or_else(|| wrong_type(what, "a number", v))
}

/// A whole number in `min..=max`.
pub(crate) fn integer(v: &JsValue, what: &str, min: f64, max: f64) -> Result<u64, JsValue> {
    let x = number(v, what)?;
    if !(x.is_finite() && x.fract() == 0.0 && x >= min && x <= max) {
        return Err(out_of_range(
            what,
            format!(
                "must be a whole number in {}..={}, got {}",
                num(min),
                num(max),
                num(x)
            ),
        ));
    }
    Ok(x as u64)
}

/// A whole number in `min..=max`, or `None` for `undefined` / `null`.
pub(crate) fn opt_integer(
    v: &JsValue,
    what: &str,
    min: f64,
    max: f64,
) -> Result<Option<u64>, JsValue> {
    if v.is_undefined() || v.is_null() {
        Ok(None)
    } else {
        integer(v, what, min, max).map(Some)
    }
}

/// A finite number in `min..=max`.
pub(crate) fn finite(v: &JsValue, what: &str, min: f64, max: f64) -> Result<f64, JsValue> {
    let x = number(v, what)?;
    if !(x.is_finite() && x >= min && x <= max) {
        return Err(out_of_range(
            what,
            format!("must be in [{}, {}], got {}", num(min), num(max), num(x)),
        ));
    }
    Ok(x)
}

/// A string.
pub(crate) fn string(v: &JsValue, what: &str) -> Result<String, JsValue> {
    v.as_string().ok_or_else(|| wrong_type(what, "a string", v))
}

/// An IndexedDB database name and record key.
pub(crate) fn db_key(db_name: &JsValue, key: &JsValue) -> Result<(String, String), JsValue> {
    Ok((string(db_name, "dbName")?, string(key, "key")?))
}

/// A caller id: a non-negative safe integer.
pub(crate) fn id(v: &JsValue) -> Result<u64, JsValue> {
    let x = number(v, "id")?;
    id_of(x)
}

/// [`id`] of a number already read.
pub(crate) fn id_of(x: f64) -> Result<u64, JsValue> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= MAX_SAFE {
        Ok(x as u64)
    } else {
        Err(js_error(
            "INVALID_ID",
            format!("id {} is not a non-negative safe integer", num(x)),
            true,
        ))
    }
}

/// The elements of an array of numbers: a `Float32Array`, a `Float64Array` or an `Array` of
/// numbers, copied into `out` as f32 (`out` is cleared first). Other typed arrays are refused
/// (an `Int8Array` of vector components is almost certainly a mistake).
pub(crate) fn f32s_into(v: &JsValue, what: &str, out: &mut Vec<f32>) -> Result<(), JsValue> {
    out.clear();
    if let Some(a) = v.dyn_ref::<js_sys::Float32Array>() {
        reserve(out, a.length() as usize, what)?;
        out.resize(a.length() as usize, 0.0);
        a.copy_to(out);
        return Ok(());
    }
    if let Some(a) = v.dyn_ref::<js_sys::Float64Array>() {
        reserve(out, a.length() as usize, what)?;
        out.resize(a.length() as usize, 0.0);
        for (o, x) in out.iter_mut().zip(a.to_vec()) {
            *o = x as f32;
        }
        return Ok(());
    }
    if let Some(a) = v.dyn_ref::<js_sys::Array>() {
        reserve(out, a.length() as usize, what)?;
        for (i, x) in a.iter().enumerate() {
            let x = x
                .as_f64()
                .ok_or_else(|| wrong_type(&format!("{what}[{i}]"), "a number", &x))?;
            out.push(x as f32);
        }
        return Ok(());
    }
    Err(wrong_type(
        what,
        "a Float32Array, a Float64Array or an Array of numbers",
        v,
    ))
}

/// Room for `n` more elements, or a coded error instead of an allocation failure (which would
/// abort the module).
pub(crate) fn reserve<T>(v: &mut Vec<T>, n: usize, what: &str) -> Result<(), JsValue> {
    v.try_reserve_exact(n).map_err(|_| {
        js_error(
            "OUT_OF_MEMORY",
            format!("{what}: no memory for {n} elements"),
            true,
        )
    })
}

/// [`f32s_into`] into a new vector.
pub(crate) fn f32s(v: &JsValue, what: &str) -> Result<Vec<f32>, JsValue> {
    let mut out = Vec::new();
    f32s_into(v, what, &mut out)?;
    Ok(out)
}

/// Numbers of a `Float64Array` or an `Array` of numbers (ids and the like).
pub(crate) fn f64s(v: &JsValue, what: &str) -> Result<Vec<f64>, JsValue> {
    if let Some(a) = v.dyn_ref::<js_sys::Float64Array>() {
        let mut out = Vec::new();
        reserve(&mut out, a.length() as usize, what)?;
        out.resize(a.length() as usize, 0.0);
        a.copy_to(&mut out);
        return Ok(out);
    }
    if let Some(a) = v.dyn_ref::<js_sys::Array>() {
        return a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_f64()
                    .ok_or_else(|| wrong_type(&format!("{what}[{i}]"), "a number", &x))
            })
            .collect();
    }
    for name in ["Uint32Array", "Int32Array", "Uint16Array", "Uint8Array"] {
        if kind(v) == name {
            let a: js_sys::Float64Array = js_sys::Float64Array::new(v);
            return Ok(a.to_vec());
        }
    }
    Err(wrong_type(
        what,
        "a Float64Array, an integer typed array or an Array of numbers",
        v,
    ))
}

/// Caller ids from [`f64s`].
pub(crate) fn ids(v: &JsValue, what: &str) -> Result<Vec<u64>, JsValue> {
    f64s(v, what)?.into_iter().map(id_of).collect()
}

#[cfg(feature = "full")]
/// Whole numbers in `0..=max` from [`f64s`], as u32.
pub(crate) fn u32s(v: &JsValue, what: &str, max: u32) -> Result<Vec<u32>, JsValue> {
    f64s(v, what)?
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            if x.is_finite() && x.fract() == 0.0 && x >= 0.0 && x <= f64::from(max) {
                Ok(x as u32)
            } else {
                Err(out_of_range(
                    &format!("{what}[{i}]"),
                    format!("must be a whole number in 0..={max}, got {}", num(x)),
                ))
            }
        })
        .collect()
}

/// Bytes of a `Uint8Array`.
pub(crate) fn bytes(v: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    let a = v
        .dyn_ref::<js_sys::Uint8Array>()
        .ok_or_else(|| wrong_type(what, "a Uint8Array", v))?;
    let mut out = Vec::new();
    reserve(&mut out, a.length() as usize, what)?;
    out.resize(a.length() as usize, 0);
    a.copy_to(&mut out);
    Ok(out)
}

/// An optional function (`undefined` / `null` is none).
pub(crate) fn opt_function(v: &JsValue, what: &str) -> Result<Option<js_sys::Function>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_ref::<js_sys::Function>()
        .cloned()
        .map(Some)
        .ok_or_else(|| wrong_type(what, "a function", v))
}
