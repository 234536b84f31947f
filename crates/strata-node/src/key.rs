//! Keys from JavaScript strings without a heap allocation per call: most keys are short, so they are copied
//! into an inline buffer with one N-API call; longer ones fall back to a `String`. Keys from the call frame
//! (`frame`) are copied the same way, after a check that they are UTF-8.

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, ValueType};

const INLINE: usize = 64;

/// A string argument, inline when shorter than `INLINE` bytes of UTF-8.
pub enum Key {
    Inline([u8; INLINE], usize),
    Heap(String),
}

impl Key {
    /// A copy of `bytes`, or an error when they are not UTF-8.
    pub fn from_utf8(bytes: &[u8]) -> Result<Key, std::str::Utf8Error> {
        let s = std::str::from_utf8(bytes)?;
        Ok(match bytes.len() {
            len if len <= INLINE => {
                let mut buf = [0u8; INLINE];
                buf[..len].copy_from_slice(bytes);
                Key::Inline(buf, len)
            }
            _ => Key::Heap(s.to_owned()),
        })
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            // UTF-8 that N-API wrote into the buffer, or that `from_utf8` checked.
            Key::Inline(buf, len) => std::str::from_utf8(&buf[..*len]).unwrap_or_default(),
            Key::Heap(s) => s,
        }
    }
}

impl TypeName for Key {
    fn type_name() -> &'static str {
        "string"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ValidateNapiValue for Key {}

impl FromNapiValue for Key {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut buf = [0u8; INLINE];
        let mut len = 0;
        // SAFETY: the buffer outlives the call and its size is passed; N-API writes at most size-1 bytes and a NUL.
        let status = unsafe { sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), INLINE, &mut len) };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::new(napi::Status::StringExpected, "expected a string".to_string()));
        }
        // A cut string still fills the buffer up to the last whole character (at most 4 bytes of UTF-8), so a
        // shorter result is the whole string.
        if len + 4 < INLINE {
            return Ok(Key::Inline(buf, len));
        }
        // The buffer may have cut the string short: read it whole.
        unsafe { String::from_napi_value(env, value) }.map(Key::Heap)
    }
}
