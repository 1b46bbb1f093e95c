//! `codeloci-ast`: scan, parse and chunk any repository with tree-sitter, served over MCP.
//!
//! Modules, in the order data flows: [`paths`] confines every path to the allowed roots;
//! [`scan`] walks and hashes; [`language`] and [`rules`] know the grammars; [`outline`] runs one
//! tree-sitter pass per file; [`chunk`] turns that pass into chunks that tile the file;
//! [`tools`] wraps the three tools as plain functions; [`server`] serves them over MCP;
//! [`http_auth`] decides who may use it over HTTP (Origin, Host, bearer token).

#![warn(missing_docs)]

pub mod bench;
pub mod chunk;
pub mod error;
pub mod http_auth;
pub mod language;
pub mod limits;
pub mod outline;
pub mod paths;
pub mod rules;
pub mod scan;
pub mod secrets;
pub mod server;
pub mod text;
pub mod tools;
pub mod transport;

pub use error::{Error, Result};
pub use server::AstServer;
