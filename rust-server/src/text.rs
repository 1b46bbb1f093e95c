//! Text helpers shared by the tools: line numbering, binary and UTF-8 checks, hashing.

use crate::error::{Error, Result};

/// Maps byte offsets to 1-based line numbers.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr_newlines(text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// The 1-based line holding the last byte of `[start, end)` (the start line when empty).
    pub fn last_line_of(&self, start: usize, end: usize) -> usize {
        if end > start {
            self.line_of(end - 1)
        } else {
            self.line_of(start)
        }
    }

    /// Byte offset where 1-based `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.starts[line.saturating_sub(1).min(self.starts.len() - 1)]
    }
}

fn memchr_newlines(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| (b == b'\n').then_some(i))
}

/// Bytes inspected for a NUL to call a file binary (as git and ripgrep do).
pub const BINARY_SNIFF_BYTES: usize = 8192;

/// Offset of a NUL byte within the first [`BINARY_SNIFF_BYTES`], if any.
pub fn binary_offset(bytes: &[u8]) -> Option<usize> {
    bytes[..bytes.len().min(BINARY_SNIFF_BYTES)]
        .iter()
        .position(|&b| b == 0)
}

/// Checks that `bytes` are text (no NUL early on, valid UTF-8) and returns them as a string.
pub fn decode(path: &str, bytes: Vec<u8>) -> Result<String> {
    if let Some(offset) = binary_offset(&bytes) {
        return Err(Error::Binary {
            path: path.to_string(),
            offset,
        });
    }
    String::from_utf8(bytes).map_err(|e| Error::InvalidUtf8 {
        path: path.to_string(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// blake3 of `bytes` as lowercase hex.
pub fn hash_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_inclusive() {
        let idx = LineIndex::new("a\nbc\n\nd");
        assert_eq!(idx.line_of(0), 1);
        assert_eq!(idx.line_of(1), 1); // the newline belongs to its line
        assert_eq!(idx.line_of(2), 2);
        assert_eq!(idx.line_of(5), 3);
        assert_eq!(idx.line_of(6), 4);
        assert_eq!(idx.last_line_of(0, 2), 1);
        assert_eq!(idx.last_line_of(2, 6), 3);
        assert_eq!(idx.line_start(2), 2);
    }

    #[test]
    fn detects_binary_and_bad_utf8() {
        assert!(matches!(
            decode("x", b"ab\0c".to_vec()),
            Err(Error::Binary { offset: 2, .. })
        ));
        assert!(matches!(
            decode("x", vec![b'a', 0xff]),
            Err(Error::InvalidUtf8 { offset: 1, .. })
        ));
        assert_eq!(decode("x", "é\r\n".as_bytes().to_vec()).unwrap(), "é\r\n");
    }
}
