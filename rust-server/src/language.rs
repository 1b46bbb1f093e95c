//! Languages codeloci understands: detection by file name and the tree-sitter grammar of each.
//!
//! Every grammar is compiled in from its crates.io crate behind a cargo feature (`lang-*`), in the
//! style of ast-grep's `crates/language`; nothing is ever downloaded at run time. A language
//! whose feature is off falls back to [`Language::Text`] (line windows).

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A language, as reported in every `language` field of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Python (`.py`, `.pyi`).
    Python,
    /// Rust (`.rs`).
    Rust,
    /// JavaScript (`.js`, `.mjs`, `.cjs`, `.jsx`).
    Javascript,
    /// TypeScript (`.ts`, `.mts`, `.cts`).
    Typescript,
    /// TypeScript with JSX (`.tsx`).
    Tsx,
    /// Go (`.go`).
    Go,
    /// Java (`.java`).
    Java,
    /// C (`.c`, `.h`).
    C,
    /// C++ (`.cc`, `.cpp`, `.cxx`, `.hpp`, `.hh`, `.hxx`, `.ipp`).
    Cpp,
    /// C# (`.cs`).
    Csharp,
    /// Ruby (`.rb`, `Rakefile`, `Gemfile`).
    Ruby,
    /// Markdown (`.md`, `.markdown`): sections by heading.
    Markdown,
    /// Any other text: chunked by line windows.
    Text,
}

impl Language {
    /// Every language, in wire-name order of the documentation.
    pub const ALL: [Language; 13] = [
        Language::Python,
        Language::Rust,
        Language::Javascript,
        Language::Typescript,
        Language::Tsx,
        Language::Go,
        Language::Java,
        Language::C,
        Language::Cpp,
        Language::Csharp,
        Language::Ruby,
        Language::Markdown,
        Language::Text,
    ];

    /// The wire name (`"python"`, `"tsx"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
            Language::Javascript => "javascript",
            Language::Typescript => "typescript",
            Language::Tsx => "tsx",
            Language::Go => "go",
            Language::Java => "java",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Csharp => "csharp",
            Language::Ruby => "ruby",
            Language::Markdown => "markdown",
            Language::Text => "text",
        }
    }

    /// Parses a wire name; also accepts common aliases (`py`, `js`, `ts`, `c++`, `c#`, `md`).
    pub fn from_name(name: &str) -> Option<Language> {
        let lower = name.trim().to_ascii_lowercase();
        let lang = match lower.as_str() {
            "python" | "py" => Language::Python,
            "rust" | "rs" => Language::Rust,
            "javascript" | "js" | "jsx" => Language::Javascript,
            "typescript" | "ts" => Language::Typescript,
            "tsx" => Language::Tsx,
            "go" | "golang" => Language::Go,
            "java" => Language::Java,
            "c" => Language::C,
            "cpp" | "c++" | "cxx" => Language::Cpp,
            "csharp" | "c#" | "cs" => Language::Csharp,
            "ruby" | "rb" => Language::Ruby,
            "markdown" | "md" => Language::Markdown,
            "text" | "txt" | "plain" => Language::Text,
            _ => return None,
        };
        Some(lang)
    }

    /// Detects the language of a path from its extension or file name. Unknown → `Text`.
    pub fn detect(path: &Path) -> Language {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match file_name {
            "Rakefile" | "Gemfile" | "Guardfile" | "Vagrantfile" => return Language::Ruby,
            _ => {}
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "py" | "pyi" | "pyw" => Language::Python,
            "rs" => Language::Rust,
            "js" | "mjs" | "cjs" | "jsx" => Language::Javascript,
            "ts" | "mts" | "cts" => Language::Typescript,
            "tsx" => Language::Tsx,
            "go" => Language::Go,
            "java" => Language::Java,
            "c" | "h" => Language::C,
            "cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" | "ipp" | "inl" => {
                Language::Cpp
            }
            "cs" => Language::Csharp,
            "rb" | "rake" | "gemspec" => Language::Ruby,
            "md" | "markdown" | "mdx" => Language::Markdown,
            _ => Language::Text,
        }
    }

    /// The compiled-in tree-sitter grammar, or `None` for `Text` or a language whose cargo
    /// feature is disabled.
    pub fn grammar(self) -> Option<tree_sitter::Language> {
        match self {
            #[cfg(feature = "lang-python")]
            Language::Python => Some(tree_sitter_python::LANGUAGE.into()),
            #[cfg(feature = "lang-rust")]
            Language::Rust => Some(tree_sitter_rust::LANGUAGE.into()),
            #[cfg(feature = "lang-javascript")]
            Language::Javascript => Some(tree_sitter_javascript::LANGUAGE.into()),
            #[cfg(feature = "lang-typescript")]
            Language::Typescript => Some(tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()),
            #[cfg(feature = "lang-typescript")]
            Language::Tsx => Some(tree_sitter_typescript::LANGUAGE_TSX.into()),
            #[cfg(feature = "lang-go")]
            Language::Go => Some(tree_sitter_go::LANGUAGE.into()),
            #[cfg(feature = "lang-java")]
            Language::Java => Some(tree_sitter_java::LANGUAGE.into()),
            #[cfg(feature = "lang-c")]
            Language::C => Some(tree_sitter_c::LANGUAGE.into()),
            #[cfg(feature = "lang-cpp")]
            Language::Cpp => Some(tree_sitter_cpp::LANGUAGE.into()),
            #[cfg(feature = "lang-csharp")]
            Language::Csharp => Some(tree_sitter_c_sharp::LANGUAGE.into()),
            #[cfg(feature = "lang-ruby")]
            Language::Ruby => Some(tree_sitter_ruby::LANGUAGE.into()),
            #[cfg(feature = "lang-markdown")]
            Language::Markdown => Some(tree_sitter_md::LANGUAGE.into()),
            _ => None,
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_extension_and_name() {
        assert_eq!(Language::detect(Path::new("a/b.py")), Language::Python);
        assert_eq!(Language::detect(Path::new("x.TSX")), Language::Tsx);
        assert_eq!(Language::detect(Path::new("Rakefile")), Language::Ruby);
        assert_eq!(Language::detect(Path::new("README")), Language::Text);
        assert_eq!(Language::detect(Path::new("lib.hpp")), Language::Cpp);
    }

    #[test]
    fn names_round_trip() {
        for lang in Language::ALL {
            assert_eq!(Language::from_name(lang.name()), Some(lang));
        }
        assert_eq!(Language::from_name("c#"), Some(Language::Csharp));
        assert_eq!(Language::from_name("cobol"), None);
    }

    #[test]
    fn every_code_language_has_a_grammar() {
        for lang in Language::ALL {
            if lang != Language::Text {
                let grammar = lang.grammar().expect("grammar compiled in");
                let mut parser = tree_sitter::Parser::new();
                parser.set_language(&grammar).expect("ABI compatible");
            }
        }
    }
}
