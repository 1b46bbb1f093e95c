//! A stdio reader that bounds the size of one JSON-RPC message (one line).
//!
//! rmcp's own line cap drops an oversized line silently, which leaves the client waiting for an
//! answer that never comes. Here an oversized line is discarded as it streams in (memory stays
//! bounded) and replaced by a small `codeloci/oversized` request carrying the original `id`,
//! which the server answers with an error naming [`MAX_MESSAGE_BYTES`](crate::limits::MAX_MESSAGE_BYTES).

use std::sync::LazyLock;

use regex::bytes::Regex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The method of the request that replaces an oversized message.
pub const OVERSIZED_METHOD: &str = "codeloci/oversized";

/// How much of an oversized line is searched for its `id`.
const ID_WINDOW: usize = 4096;

static ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,20})"#).expect("id regex")
});

/// Copies lines from `input` to `output`, replacing each line longer than `max` bytes (newline
/// excluded) by an `codeloci/oversized` request with the same id (notifications, which have no
/// id, are dropped). Returns when `input` ends.
pub async fn bound_lines<R, W>(mut input: R, mut output: W, max: usize) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut line: Vec<u8> = Vec::new();
    let mut oversized: Option<(usize, Vec<u8>)> = None; // bytes seen, head kept for the id
    loop {
        let n = input.read(&mut buf).await?;
        if n == 0 {
            if oversized.is_none() && !line.is_empty() {
                output.write_all(&line).await?;
            }
            output.shutdown().await?;
            return Ok(());
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let newline = rest.iter().position(|&b| b == b'\n');
            let piece = &rest[..newline.map_or(rest.len(), |i| i + 1)];
            rest = &rest[piece.len()..];
            match &mut oversized {
                Some((seen, head)) => {
                    *seen += piece.len();
                    if head.len() < ID_WINDOW {
                        head.extend_from_slice(&piece[..piece.len().min(ID_WINDOW - head.len())]);
                    }
                }
                None => {
                    line.extend_from_slice(piece);
                    let body = line.len() - usize::from(line.ends_with(b"\n"));
                    if body > max {
                        let head = line[..line.len().min(ID_WINDOW)].to_vec();
                        oversized = Some((line.len(), head));
                        line.clear();
                    }
                }
            }
            if newline.is_some() {
                if let Some((seen, head)) = oversized.take() {
                    if let Some(replacement) = replacement(&head, seen.saturating_sub(1), max) {
                        output.write_all(replacement.as_bytes()).await?;
                    }
                    tracing::warn!(
                        "discarded a {seen}-byte message over MAX_MESSAGE_BYTES ({max})"
                    );
                } else {
                    output.write_all(&line).await?;
                    line.clear();
                }
                output.flush().await?;
            }
        }
    }
}

fn replacement(head: &[u8], bytes: usize, max: usize) -> Option<String> {
    let id = ID.captures(head)?.get(1)?;
    let id = std::str::from_utf8(id.as_bytes()).ok()?;
    Some(format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{OVERSIZED_METHOD}\",\"params\":{{\"bytes\":{bytes},\"limit\":{max}}}}}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(input: &[u8], max: usize) -> String {
        let (mut tx, rx) = tokio::io::duplex(1 << 20);
        let mut out = Vec::new();
        tx.write_all(input).await.unwrap();
        drop(tx);
        bound_lines(rx, &mut out, max).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn passes_lines_at_the_cap_and_replaces_longer_ones() {
        let at_cap = format!("{{\"id\":1,\"x\":\"{}\"}}", "a".repeat(10));
        let max = at_cap.len();
        let over = format!("{{\"id\":\"r-2\",\"x\":\"{}\"}}", "a".repeat(11 + 2));
        let out = run(format!("{at_cap}\n{over}\n{{\"id\":3}}\n").as_bytes(), max).await;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], at_cap);
        assert!(
            lines[1].contains("\"id\":\"r-2\"") && lines[1].contains(OVERSIZED_METHOD),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "{\"id\":3}");
    }

    #[tokio::test]
    async fn drops_oversized_notifications() {
        let out = run(
            format!(
                "{{\"method\":\"n\",\"x\":\"{}\"}}\n{{\"id\":1}}\n",
                "b".repeat(100)
            )
            .as_bytes(),
            50,
        )
        .await;
        assert_eq!(out, "{\"id\":1}\n");
    }
}
