//! Semantic chunking in the spirit of cAST: every definition is a unit; an oversized one splits
//! at its children's boundaries (each piece carrying its ancestors' header lines as `context`);
//! small neighbours merge up to the cap; code between definitions forms chunks of its own.
//!
//! Invariant, tested by property: the chunks of a file tile it exactly. Concatenating their
//! `content` in order gives the file back, byte for byte; no byte is dropped or duplicated.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::language::Language;
use crate::limits::MAX_CALLS_PER_CHUNK;
use crate::outline::{Analysis, FlatSymbol};
use crate::secrets::Redaction;
use crate::text::{hash_hex, LineIndex};

/// One semantic unit of a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Chunk {
    /// Stable id in UUID form, derived from path, qualified name and content hash (and the
    /// occurrence number when the same triple repeats in one file).
    pub id: String,
    /// Path relative to its root, `/`-separated.
    pub path: String,
    /// Language of the file.
    pub language: Language,
    /// `function`, `method`, `class`, … for definitions; `code` for code between definitions;
    /// `text` for line windows of plain text; `frontmatter` for Markdown YAML front matter.
    pub kind: String,
    /// Name of the definition this chunk is (or is a part of).
    pub name: Option<String>,
    /// Qualified name, e.g. `Server.run`.
    pub qualified_name: Option<String>,
    /// Signature of that definition.
    pub signature: Option<String>,
    /// Docstring of that definition.
    pub docstring: Option<String>,
    /// Qualified name of the enclosing definition.
    pub parent: Option<String>,
    /// Header lines (signatures) of the enclosing definitions, outermost first, one per line:
    /// what a reader of this piece alone needs to know where it sits.
    pub context: Option<String>,
    /// Qualified names of every definition wholly inside this chunk.
    pub symbols: Vec<String>,
    /// First line, 1-based.
    pub start_line: usize,
    /// Last line, 1-based, inclusive.
    pub end_line: usize,
    /// First byte, 0-based.
    pub start_byte: usize,
    /// One past the last byte.
    pub end_byte: usize,
    /// The exact text of `[start_byte, end_byte)`.
    pub content: String,
    /// blake3 of `content`, hex.
    pub content_hash: String,
    /// Names called from this chunk, in order of first call, deduplicated.
    pub calls: Vec<String>,
    /// Markdown front matter as flat `key: value` pairs, on every chunk of the file.
    pub metadata: Option<BTreeMap<String, String>>,
    /// Secrets replaced in `content` by `[REDACTED:kind]` (byte ranges in the file).
    pub redactions: Vec<Redaction>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PieceKind {
    /// A whole definition.
    Def(usize),
    /// Part of an oversized definition: its header, or a line window of its body.
    Part(usize),
    /// Code outside any definition that fits, owned by the enclosing definition if any.
    Gap(Option<usize>),
    /// Markdown front matter.
    FrontMatter,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    kind: PieceKind,
}

impl Piece {
    fn owner(&self, symbols: &[FlatSymbol]) -> Option<usize> {
        match self.kind {
            PieceKind::Def(i) => symbols[i].parent,
            PieceKind::Part(i) => Some(i),
            PieceKind::Gap(owner) => owner,
            PieceKind::FrontMatter => None,
        }
    }
}

/// Splits `text` into chunks. `analysis` comes from [`crate::outline::analyze`] on the same text.
pub fn chunk_text(
    path: &str,
    lang: Language,
    text: &str,
    analysis: &Analysis,
    max_chars: usize,
) -> Vec<Chunk> {
    let symbols = &analysis.symbols;
    let mut planner = Planner {
        text,
        symbols,
        max_chars,
        pieces: Vec::new(),
        pending_ws: None,
    };
    let mut start = 0;
    let front_matter = if lang == Language::Markdown {
        front_matter(text)
    } else {
        None
    };
    if let Some((end, _)) = &front_matter {
        planner.windows(0, *end, PieceKind::FrontMatter);
        start = *end;
    }
    let roots: Vec<usize> = analysis
        .roots()
        .into_iter()
        .filter(|&r| symbols[r].start_byte >= start)
        .collect();
    planner.split(start, text.len(), &roots, None);
    planner.flush_pending();
    let pieces = planner.pieces;
    let groups = merge_small(&pieces, symbols, text, max_chars);
    let metadata = front_matter.map(|(_, m)| m);
    let lines = LineIndex::new(text);
    let mut seen: HashMap<(Option<String>, String), usize> = HashMap::new();
    groups
        .iter()
        .map(|group| {
            build_chunk(
                path, lang, text, &lines, analysis, group, &metadata, &mut seen,
            )
        })
        .collect()
}

struct Planner<'a> {
    text: &'a str,
    symbols: &'a [FlatSymbol],
    max_chars: usize,
    pieces: Vec<Piece>,
    /// Whitespace at the very start waiting for the first piece.
    pending_ws: Option<(usize, usize)>,
}

impl Planner<'_> {
    fn chars(&self, start: usize, end: usize) -> usize {
        let bytes = end - start;
        if bytes <= self.max_chars {
            return bytes.min(self.text[start..end].chars().count());
        }
        self.text[start..end].chars().count()
    }

    fn push(&mut self, mut piece: Piece) {
        if let Some((ws_start, _)) = self.pending_ws.take() {
            piece.start = ws_start;
        }
        self.pieces.push(piece);
    }

    fn flush_pending(&mut self) {
        if let Some((s, e)) = self.pending_ws.take() {
            match self.pieces.last_mut() {
                Some(last) if last.end == s => last.end = e,
                // A file of only whitespace still yields one chunk, so every byte lands somewhere.
                _ => self.pieces.push(Piece {
                    start: s,
                    end: e,
                    kind: PieceKind::Gap(None),
                }),
            }
        }
    }

    fn split(&mut self, start: usize, end: usize, children: &[usize], owner: Option<usize>) {
        let mut cursor = start;
        for &child in children {
            let sym = &self.symbols[child];
            if sym.start_byte < cursor || sym.end_byte > end {
                continue; // defensive: overlapping ranges stay inside what is already placed
            }
            if sym.start_byte > cursor {
                self.gap(cursor, sym.start_byte, owner);
            }
            self.place(child);
            cursor = sym.end_byte;
        }
        if end > cursor {
            self.gap(cursor, end, owner);
        }
    }

    fn place(&mut self, index: usize) {
        let sym = &self.symbols[index];
        let (start, end) = (sym.start_byte, sym.end_byte);
        if self.chars(start, end) <= self.max_chars {
            self.push(Piece {
                start,
                end,
                kind: PieceKind::Def(index),
            });
        } else if !sym.children.is_empty() {
            let children = sym.children.clone();
            // The header (signature, docstring, fields before the first child) is a part of its
            // own; it ends at the start of the first child's line when only indentation precedes
            // the child there.
            let first_child = self.symbols[children[0]].start_byte;
            let line_start = self.text[..first_child].rfind('\n').map_or(0, |i| i + 1);
            let header_end =
                if line_start > start && self.text[line_start..first_child].trim().is_empty() {
                    line_start
                } else {
                    first_child
                };
            if header_end > start {
                self.windows(start, header_end, PieceKind::Part(index));
            }
            self.split(header_end.max(start), end, &children, Some(index));
        } else {
            self.windows(start, end, PieceKind::Part(index));
        }
    }

    fn gap(&mut self, start: usize, end: usize, owner: Option<usize>) {
        let slice = &self.text[start..end];
        let trimmed = slice.trim();
        let follows_piece = self.pieces.last().is_some_and(|last| last.end == start);
        // A closing tail joins the piece before it unless that would push it over the cap.
        let tail_fits = follows_piece
            && is_closing_tail(trimmed)
            && self.pieces.last().is_some_and(|last| {
                self.chars(last.start, start + slice.trim_end().len()) <= self.max_chars
            });
        if trimmed.is_empty() || tail_fits {
            // Up to the last newline belongs to what came before (a closing brace, blank
            // lines); the indentation after it belongs to what comes next, so every chunk
            // starts at the start of its first line and ends at the end of its last.
            let ws_from = start + slice.trim_end().len();
            let split = match self.text[ws_from..end].rfind('\n') {
                Some(i) => ws_from + i + 1,
                None if ws_from == start && (start == 0 || self.text[..start].ends_with('\n')) => {
                    start
                }
                None => end,
            };
            if follows_piece && split > start {
                if let Some(last) = self.pieces.last_mut() {
                    last.end = split;
                }
            } else {
                self.hold_whitespace(start, split);
            }
            if split < end {
                self.hold_whitespace(split, end);
            }
            return;
        }
        // Code after a definition: the blank lines before it close the definition.
        let mut start = start;
        if follows_piece {
            let lead = slice.len() - slice.trim_start().len();
            if let Some(nl) = slice[..lead].rfind('\n') {
                if let Some(last) = self.pieces.last_mut() {
                    last.end = start + nl + 1;
                }
                start += nl + 1;
            }
        }
        self.windows(start, end, PieceKind::Gap(owner));
    }

    fn hold_whitespace(&mut self, start: usize, end: usize) {
        let s = self.pending_ws.map_or(start, |(s, _)| s);
        self.pending_ws = Some((s, end));
    }

    /// Line windows of at most `max_chars` over `[start, end)`; a longer line is cut at
    /// character boundaries.
    fn windows(&mut self, start: usize, end: usize, kind: PieceKind) {
        if self.chars(start, end) <= self.max_chars {
            self.push(Piece { start, end, kind });
            return;
        }
        let mut window_start = start;
        let mut window_chars = 0;
        let mut pos = start;
        while pos < end {
            let line_end = self.text[pos..end].find('\n').map_or(end, |i| pos + i + 1);
            let line_chars = self.chars(pos, line_end);
            if window_chars + line_chars <= self.max_chars {
                window_chars += line_chars;
                pos = line_end;
                continue;
            }
            if window_chars > 0 {
                self.push(Piece {
                    start: window_start,
                    end: pos,
                    kind,
                });
                window_start = pos;
                window_chars = 0;
                continue;
            }
            // One line longer than the cap: cut it at the cap's character boundary.
            let cut = self.text[pos..line_end]
                .char_indices()
                .nth(self.max_chars)
                .map_or(line_end, |(i, _)| pos + i);
            self.push(Piece {
                start: pos,
                end: cut,
                kind,
            });
            pos = cut;
            window_start = cut;
        }
        if window_start < end {
            self.push(Piece {
                start: window_start,
                end,
                kind,
            });
        }
    }
}

/// Text that only closes what came before: `}`, `};`, `})`, Ruby's `end`.
fn is_closing_tail(trimmed: &str) -> bool {
    trimmed == "end"
        || (trimmed.len() <= 4
            && trimmed
                .chars()
                .all(|c| matches!(c, '}' | ')' | ']' | ';' | ',')))
}

/// Greedily merges runs of small neighbouring pieces that share an owner, up to the cap. Only
/// code between definitions and one-line definitions (`type ID int`, a one-line getter) merge:
/// a multi-line definition always stays a unit of its own, so a query about it finds it by name.
fn merge_small(
    pieces: &[Piece],
    symbols: &[FlatSymbol],
    text: &str,
    max_chars: usize,
) -> Vec<Vec<Piece>> {
    let small = max_chars / 4;
    let size = |p: &Piece| text[p.start..p.end].chars().count();
    let mergeable = |p: &Piece| match p.kind {
        PieceKind::Gap(_) => true,
        PieceKind::Def(_) => !text[p.start..p.end].trim().contains('\n'),
        _ => false,
    };
    let mut groups: Vec<Vec<Piece>> = Vec::new();
    let mut group_chars = 0;
    for piece in pieces {
        let chars = size(piece);
        if let Some(group) = groups.last_mut() {
            let last = group[group.len() - 1];
            if mergeable(piece)
                && mergeable(&last)
                && chars <= small
                && group.iter().all(|p| size(p) <= small)
                && last.owner(symbols) == piece.owner(symbols)
                && group_chars + chars <= max_chars
            {
                group.push(*piece);
                group_chars += chars;
                continue;
            }
        }
        groups.push(vec![*piece]);
        group_chars = chars;
    }
    groups
}

#[allow(clippy::too_many_arguments)]
fn build_chunk(
    path: &str,
    lang: Language,
    text: &str,
    lines: &LineIndex,
    analysis: &Analysis,
    group: &[Piece],
    metadata: &Option<BTreeMap<String, String>>,
    seen: &mut HashMap<(Option<String>, String), usize>,
) -> Chunk {
    let symbols = &analysis.symbols;
    let start = group[0].start;
    let end = group[group.len() - 1].end;
    let content = &text[start..end];
    let defs: Vec<usize> = group
        .iter()
        .filter_map(|p| match p.kind {
            PieceKind::Def(i) | PieceKind::Part(i) => Some(i),
            _ => None,
        })
        .collect();
    let gap_kind = if matches!(lang, Language::Text | Language::Markdown) {
        "text"
    } else {
        "code"
    };
    let (kind, subject) = match (group, defs.first()) {
        ([single], _) => match single.kind {
            PieceKind::Def(i) | PieceKind::Part(i) => (symbols[i].kind.name().to_string(), Some(i)),
            PieceKind::Gap(_) => (gap_kind.to_string(), None),
            PieceKind::FrontMatter => ("frontmatter".to_string(), None),
        },
        (_, Some(&first))
            if defs.len() == group.len()
                && defs.iter().all(|&d| symbols[d].kind == symbols[first].kind) =>
        {
            (symbols[first].kind.name().to_string(), Some(first))
        }
        (_, first) => (gap_kind.to_string(), first.copied()),
    };
    let owner = match group[0].kind {
        PieceKind::Part(i) => Some(i),
        _ => group[0].owner(symbols),
    };
    let parent_of_subject = match group[0].kind {
        PieceKind::Part(i) | PieceKind::Def(i) => symbols[i].parent,
        _ => owner,
    };
    let sym = subject.map(|i| &symbols[i]);
    let qualified_name = sym.map(|s| s.qualified_name.clone());
    let content_hash = hash_hex(content.as_bytes());
    let key = (qualified_name.clone(), content_hash.clone());
    let occurrence = {
        let n = seen.entry(key).or_insert(0);
        *n += 1;
        *n - 1
    };
    Chunk {
        id: stable_id(path, qualified_name.as_deref(), &content_hash, occurrence),
        path: path.to_string(),
        language: lang,
        kind,
        name: sym.map(|s| s.name.clone()),
        qualified_name,
        signature: sym.map(|s| s.signature.clone()).filter(|s| !s.is_empty()),
        docstring: sym.and_then(|s| s.docstring.clone()),
        parent: parent_of_subject.map(|p| symbols[p].qualified_name.clone()),
        context: context_of(symbols, owner),
        symbols: symbols_inside(symbols, start, end),
        start_line: lines.line_of(start),
        end_line: lines.last_line_of(start, end),
        start_byte: start,
        end_byte: end,
        content: content.to_string(),
        content_hash,
        calls: calls_inside(&analysis.calls, start, end),
        metadata: metadata.clone(),
        redactions: Vec::new(),
    }
}

fn context_of(symbols: &[FlatSymbol], mut owner: Option<usize>) -> Option<String> {
    let mut chain = Vec::new();
    while let Some(i) = owner {
        chain.push(symbols[i].signature.as_str());
        owner = symbols[i].parent;
    }
    if chain.is_empty() {
        return None;
    }
    chain.reverse();
    Some(chain.join("\n"))
}

fn symbols_inside(symbols: &[FlatSymbol], start: usize, end: usize) -> Vec<String> {
    // Symbols are in document order (sorted by start), so binary search the first candidate.
    let first = symbols.partition_point(|s| s.start_byte < start);
    symbols[first..]
        .iter()
        .take_while(|s| s.start_byte < end)
        .filter(|s| s.end_byte <= end)
        .map(|s| s.qualified_name.clone())
        .collect()
}

fn calls_inside(calls: &[(usize, String)], start: usize, end: usize) -> Vec<String> {
    let first = calls.partition_point(|(at, _)| *at < start);
    let mut out: Vec<String> = Vec::new();
    for (_, name) in calls[first..].iter().take_while(|(at, _)| *at < end) {
        if out.len() >= MAX_CALLS_PER_CHUNK {
            break;
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// A UUID-shaped id (so vector stores that want UUIDs take it as is) from blake3 of the key.
pub fn stable_id(
    path: &str,
    qualified_name: Option<&str>,
    content_hash: &str,
    occurrence: usize,
) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(path.as_bytes());
    hasher.update(b"\0");
    hasher.update(qualified_name.unwrap_or("").as_bytes());
    hasher.update(b"\0");
    hasher.update(content_hash.as_bytes());
    hasher.update(b"\0");
    hasher.update(occurrence.to_string().as_bytes());
    let h = hasher.finalize();
    let b = h.as_bytes();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        (u16::from_be_bytes([b[6], b[7]]) & 0x0fff) | 0x5000,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// YAML front matter (`---` … `---` at the very start): its end byte and its flat
/// `key: value` pairs.
fn front_matter(text: &str) -> Option<(usize, BTreeMap<String, String>)> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let offset = text.len() - body.len();
    let rest = body
        .strip_prefix("---\n")
        .or_else(|| body.strip_prefix("---\r\n"))?;
    let opener = body.len() - rest.len();
    let mut pos = 0;
    let mut map = BTreeMap::new();
    for line in rest.split_inclusive('\n') {
        pos += line.len();
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return Some((offset + opener + pos, map));
        }
        if let Some((k, v)) = trimmed.split_once(':') {
            if !k.starts_with([' ', '\t', '-']) && !k.is_empty() {
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                map.insert(k.trim().to_string(), v.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outline::analyze;

    fn chunks(lang: Language, text: &str, max: usize) -> Vec<Chunk> {
        let analysis = analyze(lang, text, "t", None).unwrap();
        chunk_text("t", lang, text, &analysis, max)
    }

    fn assert_tiles(text: &str, chunks: &[Chunk]) {
        let joined: String = chunks.iter().map(|c| c.content.as_str()).collect();
        assert_eq!(joined, text);
        let mut pos = 0;
        for c in chunks {
            assert_eq!(c.start_byte, pos);
            assert!(c.end_byte > c.start_byte || text.is_empty());
            pos = c.end_byte;
        }
    }

    #[test]
    fn python_functions_and_methods_are_units() {
        let text = "import os\n\n\ndef top(a):\n    \"\"\"Top doc.\"\"\"\n    return helper(a)\n\n\nclass Greeter:\n    def hello(self):\n        print('hi')\n\n    def bye(self):\n        print('bye')\n";
        let cs = chunks(Language::Python, text, 60);
        assert_tiles(text, &cs);
        let top = cs
            .iter()
            .find(|c| c.qualified_name.as_deref() == Some("top"))
            .unwrap();
        assert_eq!(top.kind, "function");
        assert_eq!(top.docstring.as_deref(), Some("Top doc."));
        assert_eq!(top.start_line, 4);
        assert_eq!(top.calls, vec!["helper"]);
        let hello = cs
            .iter()
            .find(|c| c.qualified_name.as_deref() == Some("Greeter.hello"))
            .unwrap();
        assert_eq!(hello.kind, "method");
        assert_eq!(hello.parent.as_deref(), Some("Greeter"));
        assert_eq!(hello.context.as_deref(), Some("class Greeter"));
    }

    #[test]
    fn oversized_leaf_splits_into_windows_with_context() {
        let body: String = (0..50).map(|i| format!("    x{i} = {i}\n")).collect();
        let text = format!("def big():\n{body}");
        let cs = chunks(Language::Python, &text, 200);
        assert_tiles(&text, &cs);
        assert!(cs.len() > 3);
        assert!(cs
            .iter()
            .all(|c| c.qualified_name.as_deref() == Some("big")));
        assert!(cs.iter().all(|c| c.content.chars().count() <= 200));
        assert_eq!(cs[1].context.as_deref(), Some("def big()"));
    }

    #[test]
    fn one_long_line_is_cut_at_char_boundaries() {
        let text = "é".repeat(1000);
        let cs = chunks(Language::Text, &text, 300);
        assert_tiles(&text, &cs);
        assert_eq!(cs.len(), 4);
    }

    #[test]
    fn whitespace_only_and_empty_files() {
        assert!(chunks(Language::Python, "", 200).is_empty());
        let cs = chunks(Language::Python, "\n\n  \n", 200);
        assert_tiles("\n\n  \n", &cs);
        assert_eq!(cs.len(), 1);
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let text = "def a():\n    pass\n\ndef a():\n    pass\n";
        let one = chunks(Language::Python, text, 20);
        let two = chunks(Language::Python, text, 20);
        assert_eq!(one, two);
        let ids: std::collections::HashSet<_> = one.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), one.len());
    }

    #[test]
    fn markdown_front_matter_and_sections() {
        let text = "---\ntitle: Hello\ntags: a\n---\n# One\ntext\n## Two\nmore\n# Three\nend\n";
        let cs = chunks(Language::Markdown, text, 20);
        assert_tiles(text, &cs);
        assert_eq!(cs[0].kind, "frontmatter");
        assert_eq!(cs[1].metadata.as_ref().unwrap()["title"], "Hello");
        assert!(cs
            .iter()
            .any(|c| c.qualified_name.as_deref() == Some("One > Two")));
    }
}
