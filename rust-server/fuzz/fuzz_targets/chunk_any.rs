//! libFuzzer target: arbitrary bytes through parse (outline) and chunk in every language.
//! The first byte picks the language, the second the chunk cap; see `codeloci_ast_fuzz::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    codeloci_ast_fuzz::check(data);
});
