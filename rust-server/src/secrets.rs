//! Secret detection and redaction with one compiled pattern set, shared with the Python side:
//! the patterns live in `shared-schemas/secret-patterns.json` (compiled in with `include_str!`)
//! and both sides are tested against `shared-schemas/secret-vectors.json`.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const PATTERNS_JSON: &str = include_str!("../../shared-schemas/secret-patterns.json");

/// One secret found in a text: what kind and where (byte offsets into that text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Redaction {
    /// The pattern's kind, e.g. `aws_access_key_id`.
    pub kind: String,
    /// First byte of the secret.
    pub start_byte: usize,
    /// One past the last byte.
    pub end_byte: usize,
}

#[derive(Deserialize)]
struct PatternFile {
    patterns: Vec<PatternSpec>,
}

#[derive(Deserialize)]
struct PatternSpec {
    kind: String,
    regex: String,
    group: usize,
    #[serde(default)]
    min_entropy: Option<f64>,
}

struct Pattern {
    kind: String,
    regex: Regex,
    group: usize,
    min_entropy: Option<f64>,
}

struct Patterns {
    set: RegexSet,
    each: Vec<Pattern>,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let file: PatternFile =
        serde_json::from_str(PATTERNS_JSON).expect("secret-patterns.json is valid JSON");
    let set =
        RegexSet::new(file.patterns.iter().map(|p| &p.regex)).expect("secret patterns compile");
    let each = file
        .patterns
        .into_iter()
        .map(|p| Pattern {
            regex: Regex::new(&p.regex).expect("secret pattern compiles"),
            kind: p.kind,
            group: p.group,
            min_entropy: p.min_entropy,
        })
        .collect();
    Patterns { set, each }
});

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

/// Every secret in `text`, sorted by position, non-overlapping (the earliest, then longest, wins).
pub fn find(text: &str) -> Vec<Redaction> {
    let patterns = &*PATTERNS;
    let mut found: Vec<Redaction> = Vec::new();
    for index in patterns.set.matches(text).iter() {
        let p = &patterns.each[index];
        for caps in p.regex.captures_iter(text) {
            let Some(m) = caps.get(p.group) else { continue };
            if p.min_entropy.is_some_and(|min| entropy(m.as_str()) < min) {
                continue;
            }
            found.push(Redaction {
                kind: p.kind.clone(),
                start_byte: m.start(),
                end_byte: m.end(),
            });
        }
    }
    found.sort_by(|a, b| {
        a.start_byte
            .cmp(&b.start_byte)
            .then(b.end_byte.cmp(&a.end_byte))
    });
    let mut out: Vec<Redaction> = Vec::with_capacity(found.len());
    for r in found {
        if out.last().is_some_and(|last| r.start_byte < last.end_byte) {
            continue;
        }
        out.push(r);
    }
    out
}

/// The marker that replaces a secret of `kind`.
pub fn marker(kind: &str) -> String {
    format!("[REDACTED:{kind}]")
}

/// `text[start..end]` with the secrets among `found` (offsets into the whole text) replaced by
/// markers; returns the new text and the secrets that touched the range.
pub fn redact_range(
    text: &str,
    start: usize,
    end: usize,
    found: &[Redaction],
) -> (String, Vec<Redaction>) {
    let first = found.partition_point(|r| r.end_byte <= start);
    let mut out = String::with_capacity(end - start);
    let mut cursor = start;
    let mut hit = Vec::new();
    for r in found[first..].iter().take_while(|r| r.start_byte < end) {
        let s = r.start_byte.max(start);
        let e = r.end_byte.min(end);
        out.push_str(&text[cursor..s]);
        out.push_str(&marker(&r.kind));
        cursor = e;
        hit.push(r.clone());
    }
    out.push_str(&text[cursor..end]);
    (out, hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }
    #[derive(Deserialize)]
    struct Vector {
        text: String,
        secrets: Vec<(String, String)>,
    }

    #[test]
    fn shared_vectors_hold() {
        let v: Vectors =
            serde_json::from_str(include_str!("../../shared-schemas/secret-vectors.json")).unwrap();
        for vector in v.vectors {
            let found: Vec<(String, String)> = find(&vector.text)
                .into_iter()
                .map(|r| (r.kind, vector.text[r.start_byte..r.end_byte].to_string()))
                .collect();
            assert_eq!(found, vector.secrets, "in {:?}", vector.text);
        }
    }

    #[test]
    fn redacts_a_range_including_secrets_crossing_its_edges() {
        let text = "a AKIAIOSFODNN7EXAMPLE b";
        let found = find(text);
        let (out, hit) = redact_range(text, 0, text.len(), &found);
        assert_eq!(out, "a [REDACTED:aws_access_key_id] b");
        assert_eq!(hit.len(), 1);
        let (tail, _) = redact_range(text, 10, text.len(), &found);
        assert_eq!(tail, "[REDACTED:aws_access_key_id] b");
    }
}
