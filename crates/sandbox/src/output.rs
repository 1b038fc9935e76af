//! Bounded capture of command output.
//!
//! An agent's command may print megabytes (`cat` of a log, an endless `yes`). The model only
//! needs the start and the end, so we keep a head and a tail and count what fell between.

/// How many bytes of a command's output to keep from its start and from its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCap {
    pub head: usize,
    pub tail: usize,
}

impl Default for OutputCap {
    fn default() -> Self {
        OutputCap {
            head: 8 * 1024,
            tail: 8 * 1024,
        }
    }
}

/// Accumulates a stream under an [`OutputCap`]; every backend captures through it, so a
/// command's output reads the same whichever backend ran it.
#[derive(Debug, Default)]
pub struct CappedBuffer {
    cap: OutputCap,
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    total: u64,
}

impl CappedBuffer {
    pub fn new(cap: OutputCap) -> Self {
        CappedBuffer {
            cap,
            ..Default::default()
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.cap.head.saturating_sub(self.head.len());
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        if self.cap.tail == 0 {
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

    /// The kept text (lossily decoded) and the number of bytes dropped from the middle.
    pub fn finish(&self) -> (String, u64) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let elided = self.total - kept;
        let head = String::from_utf8_lossy(&self.head);
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail);
        if elided == 0 {
            (format!("{head}{tail}"), 0)
        } else {
            let marker = format!("\n[... {elided} bytes of output elided ...]\n");
            (format!("{head}{marker}{tail}"), elided)
        }
    }
}

/// Caps an already complete output the same way a live command's output is capped.
pub fn cap_output(bytes: &[u8], cap: OutputCap) -> (String, u64) {
    let mut buffer = CappedBuffer::new(cap);
    buffer.push(bytes);
    buffer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_head_and_tail_and_marks_the_cut() {
        let cap = OutputCap { head: 4, tail: 3 };
        let mut buffer = CappedBuffer::new(cap);
        for chunk in [b"abc".as_slice(), b"defgh", b"ij"] {
            buffer.push(chunk);
        }
        let (text, elided) = buffer.finish();
        assert_eq!(elided, 3);
        assert_eq!(text, "abcd\n[... 3 bytes of output elided ...]\nhij");
    }

    #[test]
    fn short_output_is_untouched_and_bad_utf8_is_replaced() {
        let (text, elided) = cap_output(b"ok \xff\n", OutputCap::default());
        assert_eq!(elided, 0);
        assert_eq!(text, "ok \u{fffd}\n");
    }
}
