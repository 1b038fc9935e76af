//! In-process embedded model (work in progress).
