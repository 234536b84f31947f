//! Search filters: which vectors' metadata has given fields equal to given values.
//!
//! Equality is that of the values a reader decodes, not of their bytes: MessagePack writes the keys of a map in
//! insertion order and one number in several forms, so equal values can be stored differently. The rules:
//! - objects are equal when they have the same keys with equal values, in any order; where a map repeats a key, its
//!   last value counts, as in the object JavaScript decodes;
//! - arrays are equal element by element, in order;
//! - numbers are equal when they have the same mathematical value, whatever their form (`1`, `1.0` and `1n`; and
//!   `2 ** 60`, which the TypeScript codec stores as a float, and `2n ** 60n`, which it stores as an integer), as
//!   JavaScript's `==` compares a number with a bigint; `-0` equals `0`; NaN equals nothing (it cannot be stored);
//! - strings and bytes are equal by content, and never equal to each other; `null` only equals `null`, so a filter
//!   field of `null` does not match metadata without that field.

use std::collections::BTreeMap;

use rmpv::Value;

use crate::error::{fail, Error, Result};
use crate::value;

/// A search filter: fields the metadata must have, with equal values.
pub struct Filter(Vec<(Vec<u8>, Value)>);

impl Filter {
    /// Reads a filter: a MessagePack map of field names to the values they must equal.
    pub fn parse(bytes: &[u8]) -> Result<Filter> {
        // The bindings can be called directly, with bytes the TypeScript encoder did not check.
        value::validate(bytes).map_err(|e| Error::new(e.code, format!("search filter: {}", e.message)))?;
        match rmpv::decode::read_value(&mut &bytes[..]) {
            Ok(Value::Map(fields)) => {
                Ok(Filter(fields_of(&fields).into_iter().map(|(k, v)| (k.to_vec(), v.clone())).collect()))
            }
            _ => fail!(
                InvalidValue,
                "a search filter must be an object of metadata fields and the values they must equal"
            ),
        }
    }

    /// Whether `metadata` (a MessagePack value) has every field of the filter, equal to the filter's value. An
    /// empty filter accepts anything, also metadata that is not an object; damaged metadata matches nothing.
    pub fn accepts(&self, metadata: &[u8]) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Ok(Value::Map(fields)) = rmpv::decode::read_value(&mut &metadata[..]) else { return false };
        let fields = fields_of(&fields);
        self.0.iter().all(|(k, want)| fields.get(&k[..]).is_some_and(|v| equal(v, want)))
    }
}

/// A map's entries by key, the last of a repeated key winning; a key that is not a string (metadata is validated
/// on the way in, so only in damaged bytes) is left out.
fn fields_of(entries: &[(Value, Value)]) -> BTreeMap<&[u8], &Value> {
    entries.iter().filter_map(|(k, v)| Some((k.as_str()?.as_bytes(), v))).collect()
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => {
            let (x, y) = (fields_of(x), fields_of(y));
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| equal(v, w)),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            (None, None) => a == b,
            _ => false,
        },
    }
}

/// A number as the filter compares it. A float with an integer value in the range of MessagePack integers is held
/// as that integer, so that equality is equality of value across forms.
#[derive(PartialEq)]
enum Number {
    Int(i128),
    Float(f64),
}

fn number(v: &Value) -> Option<Number> {
    // The range of MessagePack integers: [-2^63, 2^64).
    const LOW: f64 = -9_223_372_036_854_775_808.0;
    const HIGH: f64 = 18_446_744_073_709_551_616.0;
    let float = |f: f64| {
        if f.trunc() == f && (LOW..HIGH).contains(&f) {
            Number::Int(f as i128)
        } else {
            Number::Float(f)
        }
    };
    match v {
        Value::Integer(i) => Some(Number::Int(i.as_i64().map(i128::from).or(i.as_u64().map(i128::from))?)),
        Value::F32(f) => Some(float(f64::from(*f))),
        Value::F64(f) => Some(float(*f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use rmpv::Value as V;

    fn bytes(v: &V) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    fn map(entries: &[(&str, V)]) -> V {
        V::Map(entries.iter().map(|(k, v)| (V::from(*k), v.clone())).collect())
    }

    fn accepts(filter: &V, metadata: &V) -> bool {
        Filter::parse(&bytes(filter)).unwrap().accepts(&bytes(metadata))
    }

    #[test]
    fn nested_objects_are_equal_in_any_key_order() {
        let ab = map(&[("a", V::from(1)), ("b", V::from(2))]);
        let ba = map(&[("b", V::from(2)), ("a", V::from(1))]);
        let meta = map(&[("o", ab.clone()), ("tag", V::from("x"))]);
        assert!(accepts(&map(&[("o", ab.clone())]), &meta));
        assert!(accepts(&map(&[("o", ba.clone())]), &meta));
        assert!(accepts(&map(&[("tag", V::from("x")), ("o", ba)]), &meta));
        // Same keys, not a subset or a superset.
        assert!(!accepts(&map(&[("o", map(&[("a", V::from(1))]))]), &meta));
        let abc = map(&[("a", V::from(1)), ("b", V::from(2)), ("c", V::from(3))]);
        assert!(!accepts(&map(&[("o", abc)]), &meta));
        assert!(!accepts(&map(&[("o", map(&[("a", V::from(1)), ("b", V::from(3))]))]), &meta));
        assert!(!accepts(&map(&[("o", map(&[]))]), &meta));
    }

    #[test]
    fn deeper_nesting_compares_every_level() {
        // [1, {x: leaf, y: [true, null]}] three levels down, its innermost keys in either order.
        let deep = |leaf: &str, swapped: bool| {
            let mut entries = vec![("x", V::from(leaf)), ("y", V::Array(vec![V::from(true), V::Nil]))];
            if swapped {
                entries.reverse();
            }
            map(&[("p", map(&[("q", V::Array(vec![V::from(1), map(&entries)]))]))])
        };
        let meta = map(&[("d", deep("x", false)), ("after", V::from(1))]);
        assert!(accepts(&map(&[("d", deep("x", false))]), &meta));
        assert!(accepts(&map(&[("d", deep("x", true))]), &meta));
        assert!(!accepts(&map(&[("d", deep("z", true))]), &meta));
        // A mismatch deep inside leaves the walk in step: the next field is still read right.
        assert!(accepts(&map(&[("after", V::from(1))]), &meta));
        assert!(!accepts(&map(&[("d", deep("z", false)), ("after", V::from(1))]), &meta));
        let shallow = map(&[("d", map(&[("p", V::Nil)]))]);
        assert!(!accepts(&shallow, &meta));
    }

    #[test]
    fn arrays_are_equal_element_by_element_in_order() {
        let meta = map(&[("t", V::Array(vec![V::from(1), V::Array(vec![V::from("a"), V::from("b")])]))]);
        let t = |items: Vec<V>| map(&[("t", V::Array(items))]);
        let ab = V::Array(vec![V::from("a"), V::from("b")]);
        let ba = V::Array(vec![V::from("b"), V::from("a")]);
        assert!(accepts(&t(vec![V::from(1), ab.clone()]), &meta));
        assert!(!accepts(&t(vec![V::from(1), ba]), &meta));
        assert!(!accepts(&t(vec![ab.clone(), V::from(1)]), &meta));
        assert!(!accepts(&t(vec![V::from(1)]), &meta));
        assert!(!accepts(&t(vec![V::from(1), ab, V::Nil]), &meta));
        assert!(!accepts(&t(vec![]), &meta));
    }

    #[test]
    fn a_missing_field_matches_nothing_and_null_is_not_missing() {
        let meta = map(&[("z", V::Nil), ("o", map(&[("z", V::Nil)]))]);
        assert!(!accepts(&map(&[("gone", V::Nil)]), &meta));
        assert!(!accepts(&map(&[("gone", V::from(1))]), &meta));
        assert!(accepts(&map(&[("z", V::Nil)]), &meta));
        assert!(!accepts(&map(&[("z", V::from(false))]), &meta));
        assert!(accepts(&map(&[("o", map(&[("z", V::Nil)]))]), &meta));
        assert!(!accepts(&map(&[("o", map(&[]))]), &meta));
        assert!(!accepts(&map(&[("o", map(&[("z", V::Nil), ("y", V::Nil)]))]), &meta));
        // Metadata that is not an object has no fields; only the empty filter accepts it.
        assert!(!accepts(&map(&[("z", V::Nil)]), &V::Nil));
        assert!(!accepts(&map(&[("z", V::Nil)]), &V::Array(vec![V::Nil])));
        assert!(accepts(&map(&[]), &V::from("just a string")));
    }

    #[test]
    fn numbers_are_equal_by_value_whatever_their_form() {
        let n = |v: V| map(&[("n", v)]);
        // 1 as a positive fixint, a uint8, an int64, a float64, a float32.
        let ones =
            [vec![0x01], vec![0xcc, 1], vec![0xd3, 0, 0, 0, 0, 0, 0, 0, 1], bytes(&V::F64(1.0)), bytes(&V::F32(1.0))];
        for a in &ones {
            for b in &ones {
                let mut filter = vec![0x81, 0xa1, b'n'];
                filter.extend_from_slice(a);
                let mut meta = vec![0x81, 0xa1, b'n'];
                meta.extend_from_slice(b);
                assert!(Filter::parse(&filter).unwrap().accepts(&meta), "{a:?} vs {b:?}");
            }
        }
        assert!(accepts(&n(V::F64(0.5)), &n(V::F32(0.5))));
        assert!(!accepts(&n(V::F64(0.5)), &n(V::from(0))));
        assert!(!accepts(&n(V::F64(1.5)), &n(V::from(1))));
        assert!(accepts(&n(V::F64(-0.0)), &n(V::from(0))));
        assert!(accepts(&n(V::from(-7)), &n(V::F64(-7.0))));
        // Beyond 2^53, where the TypeScript codec stores numbers as floats and bigints as integers: by exact value.
        assert!(accepts(&n(V::F64(2f64.powi(60))), &n(V::from(1i64 << 60))));
        assert!(!accepts(&n(V::F64(2f64.powi(60))), &n(V::from((1i64 << 60) + 1))));
        assert!(accepts(&n(V::from(i64::MIN)), &n(V::F64(-(2f64.powi(63))))));
        assert!(!accepts(&n(V::F64(2f64.powi(63))), &n(V::from(i64::MAX))));
        assert!(!accepts(&n(V::from(1)), &n(V::from("1"))));
        assert!(!accepts(&n(V::from(1)), &n(V::from(true))));
    }

    #[test]
    fn strings_and_bytes_compare_by_content_and_differ_from_each_other() {
        let meta = map(&[("s", V::from("ab")), ("b", V::Binary(vec![1, 2]))]);
        assert!(accepts(&map(&[("s", V::from("ab")), ("b", V::Binary(vec![1, 2]))]), &meta));
        assert!(!accepts(&map(&[("s", V::from("a"))]), &meta));
        assert!(!accepts(&map(&[("b", V::Binary(vec![2, 1]))]), &meta));
        assert!(!accepts(&map(&[("s", V::Binary(b"ab".to_vec()))]), &meta));
        assert!(!accepts(&map(&[("b", V::from("\u{1}\u{2}"))]), &meta));
        // A long string (str8 form) against the same content.
        let long = "x".repeat(40);
        assert!(accepts(&map(&[("s", V::from(long.as_str()))]), &map(&[("s", V::from(long.as_str()))])));
    }

    #[test]
    fn a_repeated_key_counts_with_its_last_value_as_javascript_decodes_it() {
        let meta = map(&[("a", V::from(1)), ("o", map(&[("k", V::from(1)), ("k", V::from(2))])), ("a", V::from(2))]);
        assert!(accepts(&map(&[("a", V::from(2))]), &meta));
        assert!(!accepts(&map(&[("a", V::from(1))]), &meta));
        assert!(accepts(&map(&[("o", map(&[("k", V::from(2))]))]), &meta));
        assert!(!accepts(&map(&[("o", map(&[("k", V::from(1))]))]), &meta));
        // In a filter too.
        assert!(accepts(&map(&[("a", V::from(1)), ("a", V::from(2))]), &meta));
    }

    #[test]
    fn damaged_metadata_matches_nothing_and_does_not_panic() {
        let f = Filter::parse(&bytes(&map(&[("a", V::from(1))]))).unwrap();
        let good = bytes(&map(&[("b", V::Array(vec![V::from(1), V::from(2)])), ("a", V::from(1))]));
        assert!(f.accepts(&good));
        for cut in 0..good.len() {
            assert!(!f.accepts(&good[..cut]), "cut at {cut}");
        }
        assert!(!f.accepts(&[0x81, 0x01, 0x01]));
        assert!(!f.accepts(&[0x81, 0xa1, b'a', 0xc1]));
        assert!(!f.accepts(&[0xdf, 0xff, 0xff, 0xff, 0xff]));
        assert!(f.accepts(&good));
    }

    #[test]
    fn a_filter_that_is_not_an_object_of_valid_values_is_invalid_value() {
        let code = |b: &[u8]| Filter::parse(b).err().map(|e| e.code);
        assert_eq!(code(&bytes(&V::Nil)), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&bytes(&V::Array(vec![V::from("x"), V::from(1)]))), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&bytes(&V::from("x"))), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[]), Some(ErrorCode::InvalidValue));
        // A key that is not a string, NaN, trailing bytes.
        assert_eq!(code(&[0x81, 0x01, 0x01]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0x81, 0xa1, b'n', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0x80, 0x80]), Some(ErrorCode::InvalidValue));
        let mut deep = vec![0x81, 0xa1, b'd'];
        deep.extend(vec![0x91; value::MAX_DEPTH]);
        deep.push(0x90);
        assert_eq!(code(&deep), Some(ErrorCode::LimitExceeded));
    }
}
