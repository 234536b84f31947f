//! Byte strings as the engine keeps them: the keys of a branch's map and the values of versions.
//!
//! Most keys and many values are short, so they live inline: in the map's nodes, where a lookup compares keys
//! without following a pointer to another allocation (on a large map that pointer is a cache miss per comparison),
//! and in the version that holds a value, one allocation per version instead of two. Building a short one
//! allocates nothing. Longer ones are shared behind a reference count, so copying one stays cheap.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest byte string kept inline: with the length and the variant's tag, 24 bytes, the size of the shared form.
const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<[u8]>),
}

#[derive(Clone)]
pub struct Bytes(Repr);

const _: () = assert!(std::mem::size_of::<Bytes>() <= 24);

impl Bytes {
    /// `head` followed by `tail`.
    pub fn concat(head: &[u8], tail: &[u8]) -> Bytes {
        Bytes::join(&[head, tail])
    }

    /// The parts one after another, copied once into one allocation (none when short).
    pub fn join(parts: &[&[u8]]) -> Bytes {
        let len = parts.iter().map(|p| p.len()).sum();
        let fill = |out: &mut [u8]| {
            let mut at = 0;
            for p in parts {
                out[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
        };
        if len > INLINE {
            // Collected from an iterator of known length, the Arc is allocated once, at its final size.
            let mut shared: Arc<[u8]> = std::iter::repeat_n(0, len).collect();
            fill(Arc::get_mut(&mut shared).expect("just made, so not shared"));
            return Bytes(Repr::Shared(shared));
        }
        let mut bytes = [0; INLINE];
        fill(&mut bytes[..len]);
        Bytes(Repr::Inline { len: len as u8, bytes })
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Shared(b) => b,
        }
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        Bytes::concat(bytes, &[])
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Bytes {
        match bytes.len() {
            0..=INLINE => Bytes::from(&bytes[..]),
            _ => Bytes(Repr::Shared(Arc::from(bytes))),
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            // Zero past their lengths, so equal buffers of equal length are equal contents; compared a word at a
            // time, without the `bcmp` call slices take (a map lookup ends with this comparison).
            (Repr::Inline { len: a, bytes: x }, Repr::Inline { len: b, bytes: y }) => a == b && x == y,
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    // Inlined, a comparison of inline keys is a few word compares where the map's searches call it.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Inline { len: a, bytes: x }, Repr::Inline { len: b, bytes: y }) => {
                // Inline bytes are zero past their length, so comparing whole buffers a word at a time orders them
                // as their contents do: where a shorter one ends, its zero is below the longer one's next byte, or
                // both are zero and the lengths decide. Every map lookup compares keys; this saves a memcmp call.
                let word = |b: &[u8; INLINE], at: usize| {
                    let mut w = [0; 8];
                    let n = (INLINE - at).min(8);
                    w[..n].copy_from_slice(&b[at..at + n]);
                    u64::from_be_bytes(w)
                };
                (word(x, 0).cmp(&word(y, 0)))
                    .then_with(|| word(x, 8).cmp(&word(y, 8)))
                    .then_with(|| word(x, 16).cmp(&word(y, 16)))
                    .then_with(|| a.cmp(b))
            }
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

/// Hashes as the bytes do, as `Borrow<[u8]>` requires.
impl Hash for Bytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_bytes())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Bytes, D::Error> {
        Ok(Bytes::from(&serde_bytes::ByteBuf::deserialize(d)?[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_orders_and_compares_as_its_bytes_in_both_forms() {
        let long = [7u8; INLINE + 1];
        let keys = [
            Bytes::from(&b""[..]),
            Bytes::concat(b"ab", b"c"),
            Bytes::from(&long[..INLINE]),
            Bytes::from(&long[..]),
            Bytes::concat(&long, b"x"),
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp(b), a.as_bytes().cmp(b.as_bytes()));
                assert_eq!(a == b, a.as_bytes() == b.as_bytes());
            }
        }
        assert_eq!(keys[1].as_bytes(), b"abc");
        assert_eq!(Bytes::from(long.to_vec()), keys[3]);
        assert_eq!(Bytes::from(b"abc".to_vec()), keys[1]);
        assert_eq!(keys[4].len(), INLINE + 2);
    }

    proptest::proptest! {
        // Zeros and 0xff are the bytes where comparing padded buffers could go wrong.
        #[test]
        fn orders_as_its_bytes(
            a in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff]), 0..30),
            b in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff]), 0..30),
        ) {
            let (x, y) = (Bytes::from(&a[..]), Bytes::from(&b[..]));
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
        }
    }
}
