//! Per-language knowledge of tree-sitter node kinds: which nodes are definitions, where their
//! names, bodies and doc comments are, which are imports and which are calls.
//!
//! Kept as plain `match` tables so adding a language is one arm per question.

use tree_sitter::Node;

use crate::language::Language;
use crate::outline::SymbolKind;

/// The kind of definition `node` is in `lang`, if any (before the method/function refinement).
pub fn definition_kind(lang: Language, node: Node<'_>) -> Option<SymbolKind> {
    use SymbolKind::*;
    let kind = node.kind();
    match lang {
        Language::Python => match kind {
            "function_definition" => Some(Function),
            "class_definition" => Some(Class),
            _ => None,
        },
        Language::Rust => match kind {
            "function_item" | "function_signature_item" => Some(Function),
            "struct_item" | "union_item" => Some(Struct),
            "enum_item" => Some(Enum),
            "trait_item" => Some(Trait),
            "impl_item" => Some(Impl),
            "mod_item" if node.child_by_field_name("body").is_some() => Some(Module),
            "macro_definition" => Some(Macro),
            _ => None,
        },
        Language::Javascript | Language::Typescript | Language::Tsx => match kind {
            "function_declaration" | "generator_function_declaration" => Some(Function),
            "class_declaration" | "abstract_class_declaration" => Some(Class),
            "method_definition" | "abstract_method_signature" => Some(Method),
            "interface_declaration" => Some(Interface),
            "enum_declaration" => Some(Enum),
            "internal_module" | "module" => Some(Module),
            "lexical_declaration" | "variable_declaration" if declares_function(node) => {
                Some(Function)
            }
            _ => None,
        },
        Language::Go => match kind {
            "function_declaration" => Some(Function),
            "method_declaration" => Some(Method),
            "type_spec" => match node.child_by_field_name("type").map(|t| t.kind()) {
                Some("struct_type") => Some(Struct),
                Some("interface_type") => Some(Interface),
                _ => Some(Type),
            },
            _ => None,
        },
        Language::Java => match kind {
            "class_declaration" | "record_declaration" => Some(Class),
            "interface_declaration" | "annotation_type_declaration" => Some(Interface),
            "enum_declaration" => Some(Enum),
            "method_declaration"
            | "constructor_declaration"
            | "compact_constructor_declaration" => Some(Method),
            _ => None,
        },
        Language::C | Language::Cpp => match kind {
            "function_definition" => Some(Function),
            "struct_specifier" | "union_specifier"
                if node.child_by_field_name("body").is_some() =>
            {
                Some(Struct)
            }
            "enum_specifier" if node.child_by_field_name("body").is_some() => Some(Enum),
            "class_specifier" if node.child_by_field_name("body").is_some() => Some(Class),
            "namespace_definition" => Some(Module),
            _ => None,
        },
        Language::Csharp => match kind {
            "class_declaration" | "record_declaration" => Some(Class),
            "struct_declaration" => Some(Struct),
            "interface_declaration" => Some(Interface),
            "enum_declaration" => Some(Enum),
            "method_declaration"
            | "constructor_declaration"
            | "destructor_declaration"
            | "operator_declaration"
            | "local_function_statement" => Some(Method),
            "namespace_declaration" | "file_scoped_namespace_declaration" => Some(Module),
            _ => None,
        },
        Language::Ruby => match kind {
            "method" | "singleton_method" => Some(Method),
            "class" | "singleton_class" => Some(Class),
            "module" => Some(Module),
            _ => None,
        },
        Language::Markdown => match kind {
            "section" => Some(Section),
            _ => None,
        },
        Language::Text => None,
    }
}

fn declares_function(node: Node<'_>) -> bool {
    let mut cursor = node.walk();
    let mut declarators = node
        .named_children(&mut cursor)
        .filter(|c| c.kind() == "variable_declarator");
    let Some(first) = declarators.next() else {
        return false;
    };
    if declarators.next().is_some() {
        return false;
    }
    matches!(
        first.child_by_field_name("value").map(|v| v.kind()),
        Some("arrow_function" | "function_expression" | "function" | "generator_function")
    )
}

/// The node whose range a definition occupies: wrappers such as decorators, `export`,
/// `template<…>` and `typedef` are included.
pub fn outer_node<'t>(lang: Language, node: Node<'t>) -> Node<'t> {
    let Some(parent) = node.parent() else {
        return node;
    };
    let wraps = match lang {
        Language::Python => parent.kind() == "decorated_definition",
        Language::Javascript | Language::Typescript | Language::Tsx => {
            parent.kind() == "export_statement"
        }
        Language::Cpp => {
            parent.kind() == "template_declaration"
                || (matches!(
                    node.kind(),
                    "struct_specifier" | "class_specifier" | "enum_specifier" | "union_specifier"
                ) && matches!(parent.kind(), "type_definition" | "declaration"))
        }
        Language::C => {
            matches!(
                node.kind(),
                "struct_specifier" | "enum_specifier" | "union_specifier"
            ) && matches!(parent.kind(), "type_definition" | "declaration")
        }
        Language::Go => parent.kind() == "type_declaration" && parent.named_child_count() == 1,
        _ => false,
    };
    if wraps {
        outer_node(lang, parent)
    } else {
        node
    }
}

/// The definition's name, if it has one.
pub fn definition_name(lang: Language, node: Node<'_>, source: &[u8]) -> Option<String> {
    let text = |n: Node<'_>| n.utf8_text(source).ok().map(|s| collapse_ws(s, 200));
    match (lang, node.kind()) {
        (Language::Rust, "impl_item") => node.child_by_field_name("type").and_then(text),
        (
            Language::Javascript | Language::Typescript | Language::Tsx,
            "lexical_declaration" | "variable_declaration",
        ) => {
            let mut cursor = node.walk();
            let declarator = node
                .named_children(&mut cursor)
                .find(|c| c.kind() == "variable_declarator")?;
            declarator.child_by_field_name("name").and_then(text)
        }
        (Language::C | Language::Cpp, "function_definition") => {
            let mut decl = node.child_by_field_name("declarator")?;
            for _ in 0..16 {
                match decl.kind() {
                    "identifier"
                    | "field_identifier"
                    | "qualified_identifier"
                    | "destructor_name"
                    | "operator_name"
                    | "type_identifier" => return text(decl),
                    _ => {
                        decl = match decl.child_by_field_name("declarator") {
                            Some(d) => d,
                            None => decl.named_child(
                                u32::try_from(decl.named_child_count().checked_sub(1)?).ok()?,
                            )?,
                        };
                    }
                }
            }
            None
        }
        (
            Language::C | Language::Cpp,
            "struct_specifier" | "enum_specifier" | "union_specifier" | "class_specifier",
        ) => {
            if let Some(name) = node.child_by_field_name("name") {
                return text(name);
            }
            let parent = node.parent()?;
            if parent.kind() == "type_definition" {
                return parent.child_by_field_name("declarator").and_then(text);
            }
            None
        }
        (Language::Markdown, "section") => {
            let mut cursor = node.walk();
            let heading = node
                .named_children(&mut cursor)
                .find(|c| matches!(c.kind(), "atx_heading" | "setext_heading"))?;
            let raw = heading.utf8_text(source).ok()?;
            let first = raw.lines().next().unwrap_or("");
            let name = first
                .trim()
                .trim_start_matches('#')
                .trim()
                .trim_end_matches('#')
                .trim();
            if name.is_empty() {
                None
            } else {
                Some(collapse_ws(name, 200))
            }
        }
        _ => node.child_by_field_name("name").and_then(text),
    }
}

/// For a Go method, the receiver's type name (so `func (s *Server) Run()` is `Server.Run`).
pub fn go_receiver_type(node: Node<'_>, source: &[u8]) -> Option<String> {
    let receiver = node.child_by_field_name("receiver")?;
    let mut stack = vec![receiver];
    while let Some(n) = stack.pop() {
        if n.kind() == "type_identifier" {
            return n.utf8_text(source).ok().map(str::to_string);
        }
        let mut cursor = n.walk();
        let children: Vec<_> = n.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    None
}

/// Where the body starts: the signature is the text before it.
pub fn body_start(lang: Language, node: Node<'_>) -> Option<usize> {
    let field = match (lang, node.kind()) {
        (Language::Markdown, _) => return None,
        (Language::Ruby, _) => return None,
        (Language::Go, "type_spec" | "type_declaration") => return None,
        (
            Language::Rust,
            "struct_item" | "enum_item" | "union_item" | "trait_item" | "impl_item" | "mod_item",
        ) => "body",
        (
            Language::Javascript | Language::Typescript | Language::Tsx,
            "lexical_declaration" | "variable_declaration",
        ) => {
            let mut cursor = node.walk();
            let declarator = node
                .named_children(&mut cursor)
                .find(|c| c.kind() == "variable_declarator")?;
            let value = declarator.child_by_field_name("value")?;
            return value.child_by_field_name("body").map(|b| b.start_byte());
        }
        _ => "body",
    };
    node.child_by_field_name(field).map(|b| b.start_byte())
}

/// The Python docstring of a function or class: the first statement of the body when it is a
/// string literal.
pub fn python_docstring(node: Node<'_>, source: &[u8]) -> Option<String> {
    let body = node.child_by_field_name("body")?;
    let first = body.named_child(0)?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let string = first.named_child(0)?;
    if string.kind() != "string" {
        return None;
    }
    let raw = string.utf8_text(source).ok()?;
    Some(clean_python_string(raw))
}

fn clean_python_string(raw: &str) -> String {
    let s = raw.trim_start_matches(|c: char| "rRbBuUfF".contains(c));
    let s = ["\"\"\"", "'''", "\"", "'"]
        .iter()
        .find_map(|q| s.strip_prefix(q).and_then(|t| t.strip_suffix(q)))
        .unwrap_or(s);
    dedent(s)
}

/// Node kinds that are comments in any supported grammar.
pub fn is_comment(kind: &str) -> bool {
    matches!(kind, "comment" | "line_comment" | "block_comment")
}

/// Node kinds that attach to the following definition (attributes, annotations).
pub fn is_attribute(lang: Language, kind: &str) -> bool {
    match lang {
        Language::Rust => kind == "attribute_item",
        Language::Csharp => kind == "attribute_list",
        Language::Javascript | Language::Typescript | Language::Tsx => kind == "decorator",
        _ => false,
    }
}

/// Strips comment markers from doc comments and joins their text.
pub fn clean_comment(raw: &str) -> String {
    let mut lines = Vec::new();
    for line in raw.lines() {
        let mut l = line.trim();
        for prefix in ["///", "//!", "//", "/**", "/*!", "/*", "*/", "#"] {
            if let Some(rest) = l.strip_prefix(prefix) {
                l = rest;
                break;
            }
        }
        let l = l.strip_suffix("*/").unwrap_or(l);
        let l = l.trim_start_matches('*').trim();
        lines.push(l.to_string());
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// Whether `node` is an import statement (top level) in `lang`.
pub fn is_import(lang: Language, node: Node<'_>, source: &[u8]) -> bool {
    let kind = node.kind();
    match lang {
        Language::Python => matches!(
            kind,
            "import_statement" | "import_from_statement" | "future_import_statement"
        ),
        Language::Rust => matches!(kind, "use_declaration" | "extern_crate_declaration"),
        Language::Javascript | Language::Typescript | Language::Tsx => kind == "import_statement",
        Language::Go | Language::Java => kind == "import_declaration",
        Language::C | Language::Cpp => kind == "preproc_include",
        Language::Csharp => kind == "using_directive",
        Language::Ruby => {
            kind == "call"
                && node
                    .child_by_field_name("method")
                    .and_then(|m| m.utf8_text(source).ok())
                    .is_some_and(|m| matches!(m, "require" | "require_relative" | "load"))
        }
        Language::Markdown | Language::Text => false,
    }
}

/// If `node` is a call site, the name it calls (the rightmost identifier of the callee).
pub fn call_name(lang: Language, node: Node<'_>, source: &[u8]) -> Option<String> {
    let callee = match (lang, node.kind()) {
        (Language::Python, "call") => node.child_by_field_name("function")?,
        (Language::Ruby, "call") => node.child_by_field_name("method")?,
        (Language::Rust, "macro_invocation") => {
            let name = rightmost_identifier(node.child_by_field_name("macro")?, source)?;
            return Some(format!("{name}!"));
        }
        (Language::Java, "method_invocation") => node.child_by_field_name("name")?,
        (Language::Java | Language::Csharp, "object_creation_expression") => {
            node.child_by_field_name("type")?
        }
        (Language::Csharp, "invocation_expression") => node.child_by_field_name("function")?,
        (Language::Javascript | Language::Typescript | Language::Tsx, "new_expression") => {
            node.child_by_field_name("constructor")?
        }
        (Language::Markdown | Language::Text, _) => return None,
        (_, "call_expression") => node.child_by_field_name("function")?,
        _ => return None,
    };
    rightmost_identifier(callee, source)
}

fn rightmost_identifier(mut node: Node<'_>, source: &[u8]) -> Option<String> {
    for _ in 0..8 {
        if node.named_child_count() == 0 {
            let text = node.utf8_text(source).ok()?;
            if text.is_empty() || text.len() > 100 {
                return None;
            }
            return Some(text.to_string());
        }
        let next = [
            "property",
            "field",
            "attribute",
            "name",
            "method",
            "function",
        ]
        .iter()
        .find_map(|f| node.child_by_field_name(f))
        .or_else(|| node.named_child(u32::try_from(node.named_child_count() - 1).ok()?))?;
        node = next;
    }
    None
}

/// A name used somewhere other than where it is defined or bound: what `reference` returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefSite {
    /// The identifier, e.g. `run`.
    pub name: String,
    /// What it is reached through: `self`, a module alias, a path (`crate::a`), `?` for any
    /// other expression; None for a bare name.
    pub qualifier: Option<String>,
    /// Whether the reference is the callee of a call.
    pub call: bool,
}

fn is_identifier(kind: &str) -> bool {
    matches!(
        kind,
        "identifier"
            | "property_identifier"
            | "shorthand_property_identifier"
            | "field_identifier"
            | "type_identifier"
            | "constant"
    )
}

/// Parents whose `name` (or `key`, `pattern`) child binds a name rather than using one.
fn binds_name(kind: &str) -> bool {
    matches!(
        kind,
        "keyword_argument"
            | "default_parameter"
            | "typed_default_parameter"
            | "aliased_import"
            | "variable_declarator"
            | "field_declaration"
            | "enum_variant"
            | "const_item"
            | "static_item"
            | "type_item"
            | "public_field_definition"
            | "property_signature"
            | "field_definition"
            | "pair"
            | "parameter"
            | "required_parameter"
            | "optional_parameter"
            | "let_declaration"
            | "shorthand_field_initializer"
            | "field_initializer"
            | "named_argument"
            | "type_parameter"
            | "lifetime"
    )
}

/// Parents whose bare identifier children are being bound: parameters, the targets of a tuple
/// assignment or a `for`, `with … as x`.
fn declares_parameters(kind: &str) -> bool {
    matches!(
        kind,
        "parameters"
            | "lambda_parameters"
            | "typed_parameter"
            | "formal_parameters"
            | "closure_parameters"
            | "list_splat_pattern"
            | "dictionary_splat_pattern"
            | "type_parameters"
            | "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "as_pattern_target"
    )
}

/// The member-access node `node` is the member of (field `field` in it) and that access's
/// receiver, per language: `a.b`, `a::b`, `a->b`.
fn member_access<'t>(
    lang: Language,
    node: Node<'t>,
    field: Option<&str>,
) -> Option<(Node<'t>, Option<Node<'t>>)> {
    let parent = node.parent()?;
    let receiver = match (lang, parent.kind(), field?) {
        (Language::Python, "attribute", "attribute") => parent.child_by_field_name("object"),
        (_, "member_expression", "property") => parent.child_by_field_name("object"),
        (Language::Rust, "field_expression", "field") => parent.child_by_field_name("value"),
        (_, "field_expression", "field") => parent.child_by_field_name("argument"),
        (_, "scoped_identifier" | "scoped_type_identifier", "name") => {
            parent.child_by_field_name("path")
        }
        (_, "selector_expression", "field") => parent.child_by_field_name("operand"),
        (_, "field_access", "field") | (_, "method_invocation", "name") => {
            parent.child_by_field_name("object")
        }
        (_, "member_access_expression", "name") => parent.child_by_field_name("expression"),
        (Language::Ruby, "call", "method") => parent.child_by_field_name("receiver"),
        _ => return None,
    };
    Some((parent, receiver))
}

/// How a receiver reads as a qualifier: its text when it is a name or a path of names (`self`,
/// `os.path`, `crate::a::b`) or `super()`, `?` for any other expression.
fn qualifier_text(node: Node<'_>, source: &[u8]) -> String {
    let text = node.utf8_text(source).unwrap_or_default();
    if text == "super()" {
        return text.to_string(); // Python's zero-argument super: the bases of the class
    }
    let plain = !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == ':' || c == '$');
    if plain {
        text.to_string()
    } else {
        "?".to_string()
    }
}

/// If `node` binds a name locally (an assignment or loop target, a parameter, a `let`, a `with
/// … as`), that name: what makes a later use of it inside the same function a local, not the
/// module-level definition of that name. `field` is `node`'s field name in its parent.
pub fn binding(node: Node<'_>, field: Option<&str>, source: &[u8]) -> Option<String> {
    if node.kind() != "identifier" {
        return None;
    }
    let parent = node.parent()?;
    let pk = parent.kind();
    let bound = match field {
        Some("left") => matches!(
            pk,
            "assignment"
                | "augmented_assignment"
                | "for_statement"
                | "for_in_statement"
                | "for_in_clause"
                | "assignment_expression"
        ),
        Some("name") => matches!(
            pk,
            "default_parameter" | "typed_default_parameter" | "variable_declarator"
        ),
        Some("pattern") => matches!(
            pk,
            "let_declaration" | "parameter" | "required_parameter" | "optional_parameter"
        ),
        None => declares_parameters(pk),
        _ => false,
    };
    let name = node.utf8_text(source).ok()?;
    (bound && !name.is_empty() && name.len() <= 100).then(|| name.to_string())
}

/// If `node` uses a name (a call, a callback passed on, a default value, a base class, a type),
/// that reference; None for a name being defined or bound (a definition's own name, a
/// parameter, an assignment target, a keyword argument's name) and for `self`/`this`. `field`
/// is `node`'s field name in its parent.
pub fn reference(
    lang: Language,
    node: Node<'_>,
    field: Option<&str>,
    source: &[u8],
) -> Option<RefSite> {
    if matches!(lang, Language::Markdown | Language::Text) || !is_identifier(node.kind()) {
        return None;
    }
    let parent = node.parent()?;
    let pk = parent.kind();
    match field {
        Some("name") if definition_kind(lang, parent).is_some() || binds_name(pk) => return None,
        Some("key" | "pattern" | "alias") if binds_name(pk) || pk == "aliased_import" => {
            return None
        }
        Some("left")
            if node.kind() == "identifier"
                && matches!(
                    pk,
                    "assignment" | "for_statement" | "for_in_statement" | "assignment_expression"
                ) =>
        {
            return None
        }
        None if declares_parameters(pk) => return None,
        _ => {}
    }
    if pk == "variable_declarator" || pk == "decorated_definition" && field == Some("name") {
        return None;
    }
    let name = node.utf8_text(source).ok()?;
    if name.is_empty() || name.len() > 100 || matches!(name, "self" | "cls" | "this" | "Self") {
        return None;
    }
    let (expr, qualifier) = match member_access(lang, node, field) {
        Some((access, receiver)) => (
            access,
            Some(receiver.map_or_else(String::new, |r| qualifier_text(r, source))),
        ),
        None => (node, None),
    };
    let call = match (parent.kind(), field) {
        ("method_invocation", Some("name")) => true,
        ("call", Some("method")) if lang == Language::Ruby => true,
        _ => expr.parent().is_some_and(|g| {
            let callee = match g.kind() {
                "call" | "call_expression" | "invocation_expression" => {
                    g.child_by_field_name("function")
                }
                "new_expression" => g.child_by_field_name("constructor"),
                _ => None,
            };
            callee.is_some_and(|c| c.id() == expr.id())
        }),
    };
    Some(RefSite {
        name: name.to_string(),
        qualifier,
        call,
    })
}

/// Collapses runs of whitespace to one space and caps the length in characters.
pub fn collapse_ws(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let mut count = 0;
    for word in s.split_whitespace() {
        if count > 0 {
            if count >= max_chars {
                break;
            }
            out.push(' ');
            count += 1;
        }
        for ch in word.chars() {
            if count >= max_chars {
                break;
            }
            out.push(ch);
            count += 1;
        }
    }
    out
}

/// Removes the common leading indentation of all lines but the first (like `inspect.cleandoc`).
pub fn dedent(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            out.push(line.trim().to_string());
        } else {
            out.push(
                line.get(indent..)
                    .unwrap_or(line.trim_start())
                    .trim_end()
                    .to_string(),
            );
        }
    }
    while out.first().is_some_and(|l| l.is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_doc_comments() {
        assert_eq!(
            clean_comment("/// Adds two.\n/// Returns sum."),
            "Adds two.\nReturns sum."
        );
        assert_eq!(clean_comment("/**\n * Hello\n */"), "Hello");
        assert_eq!(clean_comment("# ruby doc"), "ruby doc");
    }

    #[test]
    fn cleans_python_strings() {
        assert_eq!(
            clean_python_string("\"\"\"Doc.\n\n    More.\n    \"\"\""),
            "Doc.\n\nMore."
        );
        assert_eq!(clean_python_string("r'raw'"), "raw");
    }

    #[test]
    fn collapses_whitespace_with_cap() {
        assert_eq!(collapse_ws("fn  a(\n  x: u8)", 100), "fn a( x: u8)");
        assert_eq!(collapse_ws("abcdef", 3), "abc");
    }
}
