//! Path confinement: every path a tool touches must resolve, after `..` and symlinks, inside one
//! of the roots the server was started with. The server enforces this itself and never trusts
//! the caller.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::limits::MAX_PATH_BYTES;

/// The allowed roots, canonicalised at start-up.
#[derive(Debug, Clone)]
pub struct Roots {
    roots: Vec<PathBuf>,
}

/// A path that passed confinement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The canonical root that contains it.
    pub root: PathBuf,
    /// The canonical absolute path.
    pub absolute: PathBuf,
    /// The path relative to `root`, with `/` separators (empty for the root itself).
    pub relative: String,
}

impl Roots {
    /// Canonicalises the given roots; each must be an existing directory.
    pub fn new<I, P>(roots: I) -> Result<Roots>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut out = Vec::new();
        for root in roots {
            let root = root.as_ref();
            let canonical = root.canonicalize().map_err(|source| Error::Io {
                path: root.display().to_string(),
                source,
            })?;
            if !canonical.is_dir() {
                return Err(Error::NotADirectory {
                    path: root.display().to_string(),
                });
            }
            out.push(canonical);
        }
        if out.is_empty() {
            return Err(Error::InvalidArgument {
                field: "root",
                reason: "at least one root is required".into(),
            });
        }
        Ok(Roots { roots: out })
    }

    /// The canonical roots.
    pub fn as_slice(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The roots joined for messages.
    pub fn describe(&self) -> String {
        self.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Resolves a caller's path. Relative paths are taken against `base` (itself a path that
    /// passed confinement) or the first root. The result must exist and lie inside a root.
    pub fn resolve(&self, user_path: &str, base: Option<&Path>) -> Result<Resolved> {
        check_syntax(user_path)?;
        let given = Path::new(user_path);
        let base = base.unwrap_or(&self.roots[0]);
        let candidate = if given.is_absolute() {
            given.to_path_buf()
        } else {
            base.join(given)
        };
        // Refuse lexical escapes before touching the file system, so a `..` path is refused
        // the same way whether or not its target exists.
        let lexical = normalize_lexically(&candidate);
        if !self.roots.iter().any(|r| lexical.starts_with(r)) && !given.is_absolute() {
            return Err(self.outside(user_path));
        }
        let canonical = match candidate.canonicalize() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.containing_root(&lexical).is_none() {
                    return Err(self.outside(user_path));
                }
                return Err(Error::NotFound {
                    path: user_path.to_string(),
                    root: base.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(Error::Io {
                    path: user_path.to_string(),
                    source,
                })
            }
        };
        let root = self
            .containing_root(&canonical)
            .ok_or_else(|| self.outside(user_path))?
            .to_path_buf();
        let relative = relative_string(&root, &canonical);
        Ok(Resolved {
            root,
            absolute: canonical,
            relative,
        })
    }

    fn containing_root(&self, path: &Path) -> Option<&Path> {
        // The longest matching root wins, so nested roots report the nearest one.
        self.roots
            .iter()
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
            .map(PathBuf::as_path)
    }

    fn outside(&self, user_path: &str) -> Error {
        Error::OutsideRoots {
            path: user_path.to_string(),
            roots: self.describe(),
        }
    }
}

/// `path` relative to `root` with `/` separators.
pub fn relative_string(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = String::new();
    for (i, comp) in rel.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&comp.as_os_str().to_string_lossy());
    }
    out
}

fn check_syntax(user_path: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::InvalidPath {
            path: truncate_for_message(user_path),
            reason: reason.to_string(),
        })
    };
    if user_path.is_empty() {
        return invalid("empty path");
    }
    if user_path.len() > MAX_PATH_BYTES {
        return invalid(&format!(
            "{} bytes long, over MAX_PATH_BYTES ({MAX_PATH_BYTES})",
            user_path.len()
        ));
    }
    if user_path.contains('\0') {
        return invalid("contains a NUL byte");
    }
    if user_path.starts_with('~') {
        return invalid(
            "`~` is not expanded; pass a path relative to the root or an absolute path inside it",
        );
    }
    Ok(())
}

fn truncate_for_message(s: &str) -> String {
    if s.len() <= 200 {
        return s.replace('\0', "\\0");
    }
    let mut end = 200;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s[..end].replace('\0', "\\0"))
}

/// Removes `.` and folds `..` without touching the file system.
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repo/src")).unwrap();
        std::fs::write(dir.path().join("repo/src/a.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s").unwrap();
        let roots = Roots::new([dir.path().join("repo")]).unwrap();
        (dir, roots)
    }

    #[test]
    fn resolves_relative_inside() {
        let (_d, roots) = setup();
        let r = roots.resolve("src/a.py", None).unwrap();
        assert_eq!(r.relative, "src/a.py");
    }

    #[test]
    fn refuses_dotdot_even_when_target_exists() {
        let (_d, roots) = setup();
        let err = roots.resolve("../secret.txt", None).unwrap_err();
        assert!(matches!(err, Error::OutsideRoots { .. }), "{err}");
        assert!(err.to_string().contains("../secret.txt"));
    }

    #[test]
    fn refuses_absolute_outside() {
        let (d, roots) = setup();
        let p = d.path().join("secret.txt");
        let err = roots.resolve(p.to_str().unwrap(), None).unwrap_err();
        assert!(matches!(err, Error::OutsideRoots { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlink_pointing_out() {
        let (d, roots) = setup();
        std::os::unix::fs::symlink(d.path().join("secret.txt"), d.path().join("repo/link"))
            .unwrap();
        std::os::unix::fs::symlink(d.path(), d.path().join("repo/dirlink")).unwrap();
        assert!(matches!(
            roots.resolve("link", None).unwrap_err(),
            Error::OutsideRoots { .. }
        ));
        assert!(matches!(
            roots.resolve("dirlink/secret.txt", None).unwrap_err(),
            Error::OutsideRoots { .. }
        ));
    }

    #[test]
    fn refuses_malformed() {
        let (_d, roots) = setup();
        for bad in ["", "~/x", "a\0b"] {
            assert!(
                matches!(
                    roots.resolve(bad, None).unwrap_err(),
                    Error::InvalidPath { .. }
                ),
                "{bad:?}"
            );
        }
        let long = "a/".repeat(MAX_PATH_BYTES / 2 + 1);
        assert!(matches!(
            roots.resolve(&long, None).unwrap_err(),
            Error::InvalidPath { .. }
        ));
        let at_limit = "a".repeat(MAX_PATH_BYTES);
        // At the limit the path is syntactically fine; it just does not exist.
        assert!(matches!(
            roots.resolve(&at_limit, None).unwrap_err(),
            Error::NotFound { .. } | Error::Io { .. }
        ));
    }

    #[test]
    fn missing_inside_is_not_found() {
        let (_d, roots) = setup();
        assert!(matches!(
            roots.resolve("nope.py", None).unwrap_err(),
            Error::NotFound { .. }
        ));
    }
}
