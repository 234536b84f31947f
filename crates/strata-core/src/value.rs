//! Values as the engine stores them: one MessagePack document per version, encoded by the caller.
//!
//! The engine never needs to look inside a KV or state value, so it keeps the caller's bytes as they are; it only
//! checks, once on the way in, that they are a well-formed value of the public model (null, bool, i64, finite f64,
//! UTF-8 string, bytes, array, string-keyed map), at most `MAX_DEPTH` deep and `MAX_VALUE_BYTES` long. That check is
//! what lets every backend and every later reader trust stored bytes.

use crate::error::{fail, Result};

/// Largest encoded value: 16 MiB.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of arrays and maps.
pub const MAX_DEPTH: usize = 128;

/// Checks that `bytes` hold exactly one valid value.
pub fn validate(bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_VALUE_BYTES {
        return fail!(
            LimitExceeded,
            "value is {} bytes encoded; the limit is {} bytes (16 MiB): store large blobs in pieces",
            bytes.len(),
            MAX_VALUE_BYTES
        );
    }
    let mut r = Reader { bytes, pos: 0 };
    r.value(0)?;
    if r.pos != bytes.len() {
        return fail!(InvalidValue, "value has {} trailing bytes after byte {}", bytes.len() - r.pos, r.pos);
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.bytes.len() - self.pos < n {
            return fail!(InvalidValue, "value is truncated at byte {}", self.pos);
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn len(&mut self, n: usize) -> Result<usize> {
        let s = self.take(n)?;
        Ok(s.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize))
    }

    fn string(&mut self, n: usize) -> Result<()> {
        let at = self.pos;
        if std::str::from_utf8(self.take(n)?).is_err() {
            return fail!(InvalidValue, "string at byte {at} is not valid UTF-8");
        }
        Ok(())
    }

    fn key(&mut self) -> Result<()> {
        let at = self.pos;
        let tag = self.take(1)?[0];
        let n = match tag {
            0xa0..=0xbf => (tag & 0x1f) as usize,
            0xd9 => self.len(1)?,
            0xda => self.len(2)?,
            0xdb => self.len(4)?,
            _ => return fail!(InvalidValue, "map key at byte {at} is not a string"),
        };
        self.string(n)
    }

    fn float(&mut self, n: usize) -> Result<()> {
        let at = self.pos;
        let s = self.take(n)?;
        let finite = if n == 4 {
            f32::from_be_bytes([s[0], s[1], s[2], s[3]]).is_finite()
        } else {
            f64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]).is_finite()
        };
        if !finite {
            return fail!(InvalidValue, "number at byte {at} is not finite");
        }
        Ok(())
    }

    fn nested(&mut self, depth: usize, items: usize, map: bool) -> Result<()> {
        if depth >= MAX_DEPTH {
            return fail!(LimitExceeded, "value nests deeper than {MAX_DEPTH} levels");
        }
        for _ in 0..items {
            if map {
                self.key()?;
            }
            self.value(depth + 1)?;
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<()> {
        let at = self.pos;
        let tag = self.take(1)?[0];
        match tag {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Ok(()),
            0x80..=0x8f => self.nested(depth, (tag & 0x0f) as usize, true),
            0x90..=0x9f => self.nested(depth, (tag & 0x0f) as usize, false),
            0xa0..=0xbf => self.string((tag & 0x1f) as usize),
            0xc4..=0xc6 => {
                let n = self.len(1 << (tag - 0xc4))?;
                self.take(n).map(|_| ())
            }
            0xca => self.float(4),
            0xcb => self.float(8),
            0xcc..=0xce => self.take(1 << (tag - 0xcc)).map(|_| ()),
            0xcf => {
                if self.take(8)?[0] & 0x80 != 0 {
                    return fail!(InvalidValue, "integer at byte {at} is outside the 64-bit signed range");
                }
                Ok(())
            }
            0xd0..=0xd3 => self.take(1 << (tag - 0xd0)).map(|_| ()),
            0xd9..=0xdb => {
                let n = self.len(1 << (tag - 0xd9))?;
                self.string(n)
            }
            0xdc | 0xdd => {
                let n = self.len(2 << (tag - 0xdc))?;
                self.nested(depth, n, false)
            }
            0xde | 0xdf => {
                let n = self.len(2 << (tag - 0xde))?;
                self.nested(depth, n, true)
            }
            _ => fail!(InvalidValue, "byte {at} (0x{tag:02x}) is not a value type stratadb stores"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn code(bytes: &[u8]) -> Option<ErrorCode> {
        validate(bytes).err().map(|e| e.code)
    }

    #[test]
    fn accepts_every_kind() {
        // {"a": [1, -1, 1.5, "x", b"\x01", nil, true]}
        let v = [
            0x81, 0xa1, b'a', 0x97, 0x01, 0xff, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xa1, b'x', 0xc4, 1, 1, 0xc0, 0xc3,
        ];
        assert_eq!(code(&v), None);
        assert_eq!(code(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn rejects_malformed_and_foreign_values() {
        assert_eq!(code(&[]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0x92, 0x01]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0x01, 0x02]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0xc1]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0xd4, 0x00, 0x00]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0xa1, 0xff]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0x81, 0x01, 0x01]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0]), Some(ErrorCode::InvalidValue));
        assert_eq!(code(&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), Some(ErrorCode::InvalidValue));
    }

    #[test]
    fn depth_limit_is_128() {
        let mut ok = vec![0x91; MAX_DEPTH - 1];
        ok.push(0x90);
        assert_eq!(code(&ok), None);
        let mut deep = vec![0x91; MAX_DEPTH];
        deep.push(0x90);
        assert_eq!(code(&deep), Some(ErrorCode::LimitExceeded));
    }

    #[test]
    fn size_limit_is_16_mib() {
        let mut big = vec![0xc6, 0x01, 0, 0, 0];
        big.resize(5 + MAX_VALUE_BYTES, 0);
        assert_eq!(code(&big), Some(ErrorCode::LimitExceeded));
    }
}
