//! Streaming capture under an [`OutputCap`], with the same text as
//! [`apprentice_sandbox::cap_output`] produces for the whole output, so a command's output
//! reads the same whichever backend ran it. (The sandbox crate's own streaming buffer is
//! private; this keeps only a head and a tail, never the whole stream.)

use std::collections::VecDeque;

use apprentice_sandbox::{OutputCap, cap_output};

#[derive(Debug)]
pub(crate) struct Capture {
    cap: OutputCap,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capture {
    pub(crate) fn new(cap: OutputCap) -> Self {
        Capture {
            cap,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.cap.head.saturating_sub(self.head.len());
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        if self.cap.tail == 0 || bytes.is_empty() {
            return;
        }
        if bytes.len() >= self.cap.tail {
            self.tail.clear();
            bytes = &bytes[bytes.len() - self.cap.tail..];
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.cap.tail);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// The kept text and the number of bytes elided from the middle.
    pub(crate) fn finish(&self) -> (String, u64) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let elided = self.total - kept;
        let mut bytes = self.head.clone();
        bytes.extend(self.tail.iter());
        if elided == 0 {
            return cap_output(
                &bytes,
                OutputCap {
                    head: bytes.len(),
                    tail: 0,
                },
            );
        }
        let head = String::from_utf8_lossy(&self.head);
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail);
        let marker = format!("\n[... {elided} bytes of output elided ...]\n");
        (format!("{head}{marker}{tail}"), elided)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cap_output_on_whole_streams() {
        let cap = OutputCap { head: 5, tail: 4 };
        let data: Vec<u8> = (0..200u8).map(|i| b'a' + i % 26).collect();
        for split in [1usize, 3, 7, 64] {
            let mut c = Capture::new(cap);
            for chunk in data.chunks(split) {
                c.push(chunk);
            }
            assert_eq!(c.finish(), cap_output(&data, cap), "chunks of {split}");
        }
        let mut short = Capture::new(cap);
        short.push(b"ok\n");
        assert_eq!(short.finish(), cap_output(b"ok\n", cap));
    }
}
