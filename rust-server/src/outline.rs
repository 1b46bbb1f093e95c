//! The outline of a file: definitions as a tree, imports and syntax-error ranges, in the spirit
//! of ast-grep's small serializable symbol model. [`analyze`] is the one tree-sitter pass that
//! both `parse` and `chunk` build on.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tree_sitter::{Node, Parser};

use crate::error::{Error, Result};
use crate::language::Language;
use crate::limits::{
    MAX_DOCSTRING_CHARS, MAX_ERROR_RANGES, MAX_IMPORT_CHARS, MAX_REFERENCES_PER_FILE,
    MAX_SIGNATURE_CHARS, MAX_SYMBOL_DEPTH, PARSE_TIMEOUT_MS,
};
use crate::rules;
use crate::text::LineIndex;

/// What a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SymbolKind {
    /// A free function.
    Function,
    /// A function defined inside a class, struct, impl, trait or interface.
    Method,
    /// A class.
    Class,
    /// A struct or union.
    Struct,
    /// An enum.
    Enum,
    /// An interface.
    Interface,
    /// A Rust trait.
    Trait,
    /// A Rust `impl` block.
    Impl,
    /// A module or namespace.
    Module,
    /// A macro definition.
    Macro,
    /// A named type (Go `type X …` other than struct/interface).
    Type,
    /// A Markdown section (a heading and what follows it).
    Section,
}

impl SymbolKind {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            SymbolKind::Function => "function",
            SymbolKind::Method => "method",
            SymbolKind::Class => "class",
            SymbolKind::Struct => "struct",
            SymbolKind::Enum => "enum",
            SymbolKind::Interface => "interface",
            SymbolKind::Trait => "trait",
            SymbolKind::Impl => "impl",
            SymbolKind::Module => "module",
            SymbolKind::Macro => "macro",
            SymbolKind::Type => "type",
            SymbolKind::Section => "section",
        }
    }

    fn holds_methods(self) -> bool {
        matches!(
            self,
            SymbolKind::Class
                | SymbolKind::Struct
                | SymbolKind::Impl
                | SymbolKind::Trait
                | SymbolKind::Interface
                | SymbolKind::Enum
        )
    }
}

/// One definition in an outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Symbol {
    /// What it is.
    pub kind: SymbolKind,
    /// Its own name, e.g. `run`.
    pub name: String,
    /// Its name qualified by its enclosing definitions, e.g. `Server.run`.
    pub qualified_name: String,
    /// The declaration line(s) up to the body, whitespace collapsed.
    pub signature: String,
    /// Its docstring or leading doc comment, markers stripped.
    pub docstring: Option<String>,
    /// First line, 1-based, including leading doc comments, attributes and decorators.
    pub start_line: usize,
    /// Last line, 1-based, inclusive.
    pub end_line: usize,
    /// First byte, 0-based.
    pub start_byte: usize,
    /// One past the last byte.
    pub end_byte: usize,
    /// Nested definitions.
    pub children: Vec<Symbol>,
}

/// One import statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Import {
    /// The statement's text, whitespace collapsed.
    pub text: String,
    /// First line, 1-based.
    pub start_line: usize,
    /// Last line, 1-based, inclusive.
    pub end_line: usize,
}

/// A range the grammar could not parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SyntaxErrorRange {
    /// First line, 1-based.
    pub start_line: usize,
    /// Last line, 1-based, inclusive.
    pub end_line: usize,
    /// First byte.
    pub start_byte: usize,
    /// One past the last byte.
    pub end_byte: usize,
    /// `error` (unparsable text) or `missing` (a token the parser inserted).
    pub kind: String,
}

/// The outline of one file: the result of the `parse` tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outline {
    /// The path relative to its root, or null when content was given inline.
    pub path: Option<String>,
    /// The language parsed.
    pub language: Language,
    /// Top-level definitions, each with its nested ones.
    pub definitions: Vec<Symbol>,
    /// Top-level import statements.
    pub imports: Vec<Import>,
    /// Ranges with syntax errors (at most `MAX_ERROR_RANGES`); everything else is still outlined.
    pub errors: Vec<SyntaxErrorRange>,
}

/// A definition in document order, with its parent as an index: the form the chunker walks.
#[derive(Debug, Clone)]
pub struct FlatSymbol {
    /// What it is.
    pub kind: SymbolKind,
    /// Its own name.
    pub name: String,
    /// Qualified name.
    pub qualified_name: String,
    /// Signature.
    pub signature: String,
    /// Docstring.
    pub docstring: Option<String>,
    /// First byte including doc comments and wrappers.
    pub start_byte: usize,
    /// One past the last byte.
    pub end_byte: usize,
    /// Index of the enclosing definition in the flat list.
    pub parent: Option<usize>,
    /// Indices of nested definitions, in order.
    pub children: Vec<usize>,
}

/// Everything one tree-sitter pass learns about a file.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Definitions in document order.
    pub symbols: Vec<FlatSymbol>,
    /// Top-level imports.
    pub imports: Vec<Import>,
    /// Syntax-error ranges.
    pub errors: Vec<SyntaxErrorRange>,
    /// Call sites: (byte offset, called name), in document order.
    pub calls: Vec<(usize, String)>,
    /// Name references (only when asked for: [`analyze_symbols`]): (byte offset, reference),
    /// in document order.
    pub references: Vec<(usize, rules::RefSite)>,
    /// Import statements at any depth (only when asked for): (byte offset, text).
    pub import_sites: Vec<(usize, String)>,
    /// Names bound locally (only when asked for): (byte offset, name).
    pub bindings: Vec<(usize, String)>,
}

impl Analysis {
    /// Indices of the top-level definitions.
    pub fn roots(&self) -> Vec<usize> {
        (0..self.symbols.len())
            .filter(|&i| self.symbols[i].parent.is_none())
            .collect()
    }
}

const BOM: &str = "\u{feff}";

/// Parses `text` as `lang` and extracts definitions, imports, errors and calls. A leading BOM is
/// skipped for parsing; all byte offsets refer to `text` as given.
pub fn analyze(
    lang: Language,
    text: &str,
    path: &str,
    cancel: Option<&AtomicBool>,
) -> Result<Analysis> {
    analyze_within(lang, text, path, cancel, PARSE_TIMEOUT_MS, false)
}

/// [`analyze`] that also collects name references and every import statement, for
/// [`file_symbols`].
pub fn analyze_symbols(
    lang: Language,
    text: &str,
    path: &str,
    cancel: Option<&AtomicBool>,
) -> Result<Analysis> {
    analyze_within(lang, text, path, cancel, PARSE_TIMEOUT_MS, true)
}

/// [`analyze`] with the parse time limit as a parameter, so its edge is testable.
fn analyze_within(
    lang: Language,
    text: &str,
    path: &str,
    cancel: Option<&AtomicBool>,
    limit_ms: u64,
    references: bool,
) -> Result<Analysis> {
    let Some(grammar) = lang.grammar() else {
        return Ok(Analysis::default());
    };
    let offset = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let body = &text.as_bytes()[offset..];
    let mut parser = Parser::new();
    parser
        .set_language(&grammar)
        .map_err(|e| Error::UnknownLanguage(format!("{lang}: {e}")))?;
    let started = Instant::now();
    let limit = Duration::from_millis(limit_ms);
    let mut progress = |_: &tree_sitter::ParseState| {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) || started.elapsed() > limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
    let tree = parser.parse_with_options(
        &mut |i, _| body.get(i..).unwrap_or(&[]),
        None,
        Some(options),
    );
    let Some(tree) = tree else {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        return Err(Error::ParseTimeout {
            path: path.to_string(),
            limit_ms,
        });
    };
    let lines = LineIndex::new(text);
    Ok(Extractor {
        lang,
        source: body,
        offset,
        lines: &lines,
        references,
    }
    .run(tree.root_node()))
}

struct Extractor<'a> {
    lang: Language,
    source: &'a [u8],
    offset: usize,
    lines: &'a LineIndex,
    references: bool,
}

impl Extractor<'_> {
    fn run(&self, root: Node<'_>) -> Analysis {
        let mut out = Analysis::default();
        self.collect_imports(root, &mut out.imports);
        let mut open: Vec<usize> = Vec::new();
        let mut depth_of: Vec<usize> = Vec::new();
        let mut cursor = root.walk();
        let mut import_end = 0;
        'walk: loop {
            let node = cursor.node();
            if self.references {
                self.note_reference(node, cursor.field_name(), &mut import_end, &mut out);
            }
            if let Some(kind) = rules::definition_kind(self.lang, node) {
                self.add_symbol(node, kind, &mut open, &mut depth_of, &mut out.symbols);
            }
            if let Some(name) = rules::call_name(self.lang, node, self.source) {
                out.calls.push((node.start_byte() + self.offset, name));
            }
            if (node.is_error() || node.is_missing()) && out.errors.len() < MAX_ERROR_RANGES {
                out.errors.push(self.error_range(node));
            }
            if cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    continue 'walk;
                }
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        out
    }

    /// Records `node` as an import statement or a name reference (names inside an import
    /// statement are the import's, not references).
    fn note_reference(
        &self,
        node: Node<'_>,
        field: Option<&str>,
        import_end: &mut usize,
        out: &mut Analysis,
    ) {
        if node.start_byte() < *import_end {
            return;
        }
        if rules::is_import(self.lang, node, self.source) {
            *import_end = node.end_byte();
            if out.import_sites.len() < MAX_REFERENCES_PER_FILE {
                let text = node.utf8_text(self.source).unwrap_or_default();
                out.import_sites.push((
                    node.start_byte() + self.offset,
                    rules::collapse_ws(text, MAX_IMPORT_CHARS),
                ));
            }
            return;
        }
        if out.references.len() < MAX_REFERENCES_PER_FILE {
            if let Some(site) = rules::reference(self.lang, node, field, self.source) {
                out.references.push((node.start_byte() + self.offset, site));
            }
        }
        if out.bindings.len() < MAX_REFERENCES_PER_FILE {
            if let Some(name) = rules::binding(node, field, self.source) {
                out.bindings.push((node.start_byte() + self.offset, name));
            }
        }
    }

    fn add_symbol(
        &self,
        node: Node<'_>,
        kind: SymbolKind,
        open: &mut Vec<usize>,
        depth_of: &mut Vec<usize>,
        symbols: &mut Vec<FlatSymbol>,
    ) {
        let Some(mut name) = rules::definition_name(self.lang, node, self.source) else {
            return;
        };
        let outer = rules::outer_node(self.lang, node);
        let core_start = node.start_byte() + self.offset;
        while open
            .last()
            .is_some_and(|&i| symbols[i].end_byte <= core_start)
        {
            open.pop();
        }
        let parent = open.last().copied();
        let depth = parent.map_or(0, |p| depth_of[p] + 1);
        if depth >= MAX_SYMBOL_DEPTH {
            return;
        }
        let mut kind = kind;
        if kind == SymbolKind::Function && parent.is_some_and(|p| symbols[p].kind.holds_methods()) {
            kind = SymbolKind::Method;
        }
        if kind == SymbolKind::Method
            && parent.is_none_or(|p| {
                !symbols[p].kind.holds_methods() && symbols[p].kind != SymbolKind::Module
            })
            && self.lang == Language::Ruby
        {
            kind = SymbolKind::Function;
        }
        let mut qualifier = parent.map(|p| symbols[p].qualified_name.clone());
        if self.lang == Language::Go && node.kind() == "method_declaration" {
            qualifier = rules::go_receiver_type(node, self.source);
        }
        if self.lang == Language::C || self.lang == Language::Cpp {
            // `void Foo::bar()` already carries its qualifier in the name.
            name = name.replace("::", ".");
        }
        let separator = if self.lang == Language::Markdown {
            " > "
        } else {
            "."
        };
        let qualified_name = match qualifier {
            Some(q) => format!("{q}{separator}{name}"),
            None => name.clone(),
        };
        let (start_byte, leading_doc) = self.extended_start(outer);
        let end_byte = outer.end_byte() + self.offset;
        // Go's `type X struct` has its keyword on the wrapper, not on the `type_spec`.
        let signature =
            self.signature(if self.lang == Language::Go && node.kind() == "type_spec" {
                outer
            } else {
                node
            });
        let docstring = match self.lang {
            Language::Python => rules::python_docstring(node, self.source).or(leading_doc),
            _ => leading_doc,
        }
        .filter(|d| !d.is_empty())
        .map(|d| truncate_chars(&d, MAX_DOCSTRING_CHARS));
        let index = symbols.len();
        symbols.push(FlatSymbol {
            kind,
            name,
            qualified_name,
            signature,
            docstring,
            start_byte,
            end_byte,
            parent,
            children: Vec::new(),
        });
        depth_of.push(depth);
        if let Some(p) = parent {
            symbols[p].children.push(index);
        }
        open.push(index);
    }

    /// Start of the definition including the doc comments and attributes right above it (no
    /// blank line between), and the text of those comments.
    fn extended_start(&self, outer: Node<'_>) -> (usize, Option<String>) {
        let mut start = outer.start_byte();
        let mut start_row = outer.start_position().row;
        let mut comments: Vec<String> = Vec::new();
        let mut sibling = outer.prev_sibling();
        // A definition first in a body wrapper (Ruby's `body_statement`, …) has its comment
        // beside the wrapper, not beside itself.
        if sibling.is_none() {
            if let Some(parent) = outer
                .parent()
                .filter(|p| p.start_byte() == outer.start_byte())
            {
                sibling = parent.prev_sibling();
            }
        }
        while let Some(s) = sibling {
            let kind = s.kind();
            let is_comment = rules::is_comment(kind);
            if !(is_comment || rules::is_attribute(self.lang, kind)) {
                break;
            }
            if s.end_position().row + 1 < start_row || !self.starts_line(s.start_byte()) {
                break;
            }
            start = s.start_byte();
            start_row = s.start_position().row;
            if is_comment {
                if let Ok(t) = s.utf8_text(self.source) {
                    comments.push(t.to_string());
                }
            }
            sibling = s.prev_sibling();
        }
        comments.reverse();
        let doc = if comments.is_empty() {
            None
        } else {
            Some(rules::clean_comment(&comments.join("\n")))
        };
        (start + self.offset, doc)
    }

    fn starts_line(&self, byte: usize) -> bool {
        self.source[..byte]
            .iter()
            .rev()
            .take_while(|&&b| b != b'\n')
            .all(|b| b.is_ascii_whitespace())
    }

    fn signature(&self, node: Node<'_>) -> String {
        let start = node.start_byte();
        let end = match rules::body_start(self.lang, node) {
            Some(b) if b > start => b,
            _ => {
                let rest = &self.source[start..node.end_byte()];
                start + rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())
            }
        };
        let raw = String::from_utf8_lossy(&self.source[start..end]);
        let collapsed = rules::collapse_ws(&raw, MAX_SIGNATURE_CHARS);
        collapsed
            .trim_end_matches(|c: char| c == '{' || c == ':' || c.is_whitespace())
            .to_string()
    }

    fn collect_imports(&self, root: Node<'_>, imports: &mut Vec<Import>) {
        let mut cursor = root.walk();
        for child in root.named_children(&mut cursor) {
            if rules::is_import(self.lang, child, self.source) {
                let text = child.utf8_text(self.source).unwrap_or_default();
                let start = child.start_byte() + self.offset;
                let end = child.end_byte() + self.offset;
                imports.push(Import {
                    text: rules::collapse_ws(text, 500),
                    start_line: self.lines.line_of(start),
                    end_line: self.lines.last_line_of(start, end),
                });
            }
        }
    }

    fn error_range(&self, node: Node<'_>) -> SyntaxErrorRange {
        let start = node.start_byte() + self.offset;
        let end = node.end_byte() + self.offset;
        SyntaxErrorRange {
            start_line: self.lines.line_of(start),
            end_line: self.lines.last_line_of(start, end),
            start_byte: start,
            end_byte: end,
            kind: if node.is_missing() {
                "missing"
            } else {
                "error"
            }
            .to_string(),
        }
    }
}

/// Builds the `parse` result from an analysis.
pub fn outline(path: Option<String>, lang: Language, text: &str, analysis: Analysis) -> Outline {
    let lines = LineIndex::new(text);
    let roots = analysis.roots();
    let definitions = roots
        .iter()
        .map(|&i| to_symbol(&analysis.symbols, i, &lines))
        .collect();
    Outline {
        path,
        language: lang,
        definitions,
        imports: analysis.imports,
        errors: analysis.errors,
    }
}

/// One definition of a file for symbol navigation: a flat [`Symbol`] with its parent's index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Definition {
    /// What it is.
    pub kind: SymbolKind,
    /// Its own name.
    pub name: String,
    /// Its name qualified by its enclosing definitions.
    pub qualified_name: String,
    /// The declaration up to the body, whitespace collapsed.
    pub signature: String,
    /// The first line of its docstring or doc comment.
    pub doc: Option<String>,
    /// First line, 1-based, including doc comments, attributes and decorators.
    pub start_line: usize,
    /// Last line, 1-based, inclusive.
    pub end_line: usize,
    /// Index of the enclosing definition in this list.
    pub parent: Option<usize>,
}

/// A name used in a file: called, passed on, read, named as a type or a base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reference {
    /// The name, e.g. `run`.
    pub name: String,
    /// Line, 1-based.
    pub line: usize,
    /// What the name is reached through (`self`, a module alias, `crate::a`; `?` for another
    /// expression); null for a bare name.
    pub qualifier: Option<String>,
    /// The name is called here.
    pub call: bool,
}

/// A name bound locally: an assignment or loop target, a parameter, a `let`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Binding {
    /// The name.
    pub name: String,
    /// Line, 1-based.
    pub line: usize,
}

/// One import statement, at any depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportSite {
    /// The statement, whitespace collapsed.
    pub text: String,
    /// First line, 1-based.
    pub line: usize,
}

/// What symbol navigation needs of one file: every definition, reference and import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileSymbols {
    /// Definitions in document order.
    pub definitions: Vec<Definition>,
    /// References in document order, each (name, line, qualifier, call) once, at most
    /// `MAX_REFERENCES_PER_FILE`.
    pub references: Vec<Reference>,
    /// Import statements in document order, nested ones included.
    pub imports: Vec<ImportSite>,
    /// Names bound locally, each (name, line) once, at most `MAX_REFERENCES_PER_FILE`.
    pub bindings: Vec<Binding>,
}

/// The symbols of `text` from an analysis made by [`analyze_symbols`].
pub fn file_symbols(text: &str, analysis: &Analysis) -> FileSymbols {
    let lines = LineIndex::new(text);
    let definitions = analysis
        .symbols
        .iter()
        .map(|s| Definition {
            kind: s.kind,
            name: s.name.clone(),
            qualified_name: s.qualified_name.clone(),
            signature: s.signature.clone(),
            doc: s
                .docstring
                .as_deref()
                .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(|l| truncate_chars(l, 200)),
            start_line: lines.line_of(s.start_byte),
            end_line: lines.last_line_of(s.start_byte, s.end_byte),
            parent: s.parent,
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let references = analysis
        .references
        .iter()
        .map(|(at, site)| Reference {
            name: site.name.clone(),
            line: lines.line_of(*at),
            qualifier: site.qualifier.clone(),
            call: site.call,
        })
        .filter(|r| seen.insert((r.line, r.name.clone(), r.qualifier.clone(), r.call)))
        .collect();
    let imports = analysis
        .import_sites
        .iter()
        .map(|(at, text)| ImportSite {
            text: text.clone(),
            line: lines.line_of(*at),
        })
        .collect();
    let mut bound = std::collections::HashSet::new();
    let bindings = analysis
        .bindings
        .iter()
        .map(|(at, name)| Binding {
            name: name.clone(),
            line: lines.line_of(*at),
        })
        .filter(|b| bound.insert((b.line, b.name.clone())))
        .collect();
    FileSymbols {
        definitions,
        references,
        imports,
        bindings,
    }
}

fn to_symbol(flat: &[FlatSymbol], index: usize, lines: &LineIndex) -> Symbol {
    // Depth is bounded by MAX_SYMBOL_DEPTH, so this recursion is bounded too.
    let s = &flat[index];
    Symbol {
        kind: s.kind,
        name: s.name.clone(),
        qualified_name: s.qualified_name.clone(),
        signature: s.signature.clone(),
        docstring: s.docstring.clone(),
        start_line: lines.line_of(s.start_byte),
        end_line: lines.last_line_of(s.start_byte, s.end_byte),
        start_byte: s.start_byte,
        end_byte: s.end_byte,
        children: s
            .children
            .iter()
            .map(|&c| to_symbol(flat, c, lines))
            .collect(),
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::chunk_text;
    use crate::limits::MAX_CALLS_PER_CHUNK;

    fn refs(lang: Language, text: &str) -> Vec<(usize, String, Option<String>, bool)> {
        let analysis = analyze_symbols(lang, text, "t", None).unwrap();
        file_symbols(text, &analysis)
            .references
            .into_iter()
            .map(|r| (r.line, r.name, r.qualifier, r.call))
            .collect()
    }

    fn r(
        line: usize,
        name: &str,
        qualifier: Option<&str>,
        call: bool,
    ) -> (usize, String, Option<String>, bool) {
        (line, name.to_string(), qualifier.map(str::to_string), call)
    }

    #[test]
    fn references_are_uses_not_bindings_with_their_qualifier_and_whether_called() {
        let py = "import os.path as osp\n\ndef run(self, fn=cb, *rest):\n    x = helper(fn)\n    self.go(key=x)\n    osp.join(x)\n    register(cb)\n    super().run()\n";
        assert_eq!(
            refs(Language::Python, py),
            vec![
                r(3, "cb", None, false),
                r(4, "helper", None, true),
                r(4, "fn", None, false),
                r(5, "go", Some("self"), true),
                r(5, "x", None, false),
                r(6, "osp", None, false),
                r(6, "join", Some("osp"), true),
                r(6, "x", None, false),
                r(7, "register", None, true),
                r(7, "cb", None, false),
                r(8, "super", None, true),
                r(8, "run", Some("super()"), true),
            ]
        );
        let ts = "import { a as b } from './m';\nfunction f(p: T) { this.g(); b(p); [1].map(h); new ns.C(); }\n";
        assert_eq!(
            refs(Language::Typescript, ts),
            vec![
                r(2, "T", None, false),
                r(2, "g", Some("this"), true),
                r(2, "b", None, true),
                r(2, "p", None, false),
                r(2, "map", Some("?"), true),
                r(2, "h", None, false),
                r(2, "ns", None, false),
                r(2, "C", Some("ns"), true),
            ]
        );
        let rs =
            "use crate::a::{b, c as d};\nfn f(v: u32) { d(v); b::h(); Self::new(); self.m(); }\n";
        assert_eq!(
            refs(Language::Rust, rs),
            vec![
                r(2, "d", None, true),
                r(2, "v", None, false),
                r(2, "b", None, false),
                r(2, "h", Some("b"), true),
                r(2, "new", Some("Self"), true),
                r(2, "m", Some("self"), true),
            ]
        );
        let analysis = analyze_symbols(Language::Rust, rs, "t", None).unwrap();
        let symbols = file_symbols(rs, &analysis);
        assert_eq!(symbols.imports[0].text, "use crate::a::{b, c as d};");
        assert_eq!(symbols.definitions[0].qualified_name, "f");
        let names = |s: &FileSymbols| {
            s.bindings
                .iter()
                .map(|b| b.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&symbols), vec!["v"]);
        let py = "def f(a, b=1, *c):\n    x = 1\n    y, z = g()\n    for i in a:\n        pass\n    with o as w:\n        pass\n";
        let analysis = analyze_symbols(Language::Python, py, "t", None).unwrap();
        assert_eq!(
            names(&file_symbols(py, &analysis)),
            vec!["a", "b", "c", "x", "y", "z", "i", "w"]
        );
        // `analyze` alone collects none of this.
        assert!(analyze(Language::Rust, rs, "t", None)
            .unwrap()
            .references
            .is_empty());
    }

    #[test]
    fn references_per_file_are_capped() {
        let text = "x\n".repeat(MAX_REFERENCES_PER_FILE + 10);
        assert_eq!(refs(Language::Python, &text).len(), MAX_REFERENCES_PER_FILE);
    }

    #[test]
    fn a_parse_over_its_time_limit_is_abandoned_naming_it() {
        let text: String = (0..20_000)
            .map(|i| format!("def f{i}(x):\n    return x\n"))
            .collect();
        let err = analyze_within(Language::Python, &text, "big.py", None, 0, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("parsing big.py took longer than 0 ms (PARSE_TIMEOUT_MS)"),
            "{err}"
        );
        // The same file under the real limit parses.
        let analysis = analyze(Language::Python, &text, "big.py", None).unwrap();
        assert_eq!(analysis.symbols.len(), 20_000);
    }

    #[test]
    fn signature_docstring_calls_and_error_ranges_are_capped() {
        let params: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
        let doc = "d".repeat(MAX_DOCSTRING_CHARS + 500);
        let calls: String = (0..MAX_CALLS_PER_CHUNK + 50)
            .map(|i| format!("    c{i}()\n"))
            .collect();
        let text = format!(
            "def wide({}):\n    \"\"\"{doc}\"\"\"\n{calls}",
            params.join(", ")
        );
        let analysis = analyze(Language::Python, &text, "t.py", None).unwrap();
        let wide = &analysis.symbols[0];
        assert_eq!(wide.name, "wide");
        assert!(wide.signature.chars().count() <= MAX_SIGNATURE_CHARS);
        assert!(wide.signature.starts_with("def wide(p0, p1"));
        assert_eq!(
            wide.docstring.as_deref().map(|d| d.chars().count()),
            Some(MAX_DOCSTRING_CHARS)
        );
        let chunks = chunk_text("t.py", Language::Python, &text, &analysis, 20_000);
        let called: usize = chunks.iter().map(|c| c.calls.len()).max().unwrap();
        assert_eq!(called, MAX_CALLS_PER_CHUNK);

        let broken: String = (0..MAX_ERROR_RANGES * 2)
            .map(|i| format!("def f{i}(:\n    pass\nx{i} = 1\n"))
            .collect();
        let analysis = analyze(Language::Python, &broken, "b.py", None).unwrap();
        assert_eq!(analysis.errors.len(), MAX_ERROR_RANGES);
    }
}
