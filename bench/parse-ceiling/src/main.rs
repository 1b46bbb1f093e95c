//! `parse-ceiling LISTFILE REPEAT`: parses every listed .py/.rs file REPEAT times on one
//! thread with plain `Parser::parse` (no queries, no chunking) and prints
//! `{"files", "bytes", "seconds": [...]}`. Files are read before timing.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let list = std::fs::read_to_string(&args[1]).expect("list file");
    let repeat: usize = args.get(2).map_or(3, |r| r.parse().expect("repeat"));
    let texts: Vec<(bool, String)> = list
        .lines()
        .filter(|l| !l.is_empty())
        .map(|p| (p.ends_with(".rs"), std::fs::read_to_string(p).expect("read")))
        .collect();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let python: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
    let rust: tree_sitter::Language = tree_sitter_rust::LANGUAGE.into();
    let mut py_parser = tree_sitter::Parser::new();
    py_parser.set_language(&python).expect("python grammar");
    let mut rs_parser = tree_sitter::Parser::new();
    rs_parser.set_language(&rust).expect("rust grammar");
    let mut seconds = Vec::new();
    let mut nodes = 0usize;
    for _ in 0..repeat {
        let started = Instant::now();
        for (is_rust, text) in &texts {
            let parser = if *is_rust { &mut rs_parser } else { &mut py_parser };
            let tree = parser.parse(text, None).expect("parse");
            nodes += usize::from(tree.root_node().child_count() > 0);
        }
        seconds.push(started.elapsed().as_secs_f64());
    }
    println!("{}", serde_json::json!({"files": texts.len(), "bytes": bytes, "seconds": seconds, "nonempty": nodes / repeat.max(1)}));
}
