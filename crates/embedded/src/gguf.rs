//! Opening GGUF files with checks that turn bad input into named errors.
//!
//! candle's reader already refuses most malformed files, but its messages do not say which
//! file was wrong or whether it was cut short. We check the magic first (so "this is not a
//! GGUF file" is distinct from "this GGUF file is damaged") and check that every tensor's
//! bytes lie inside the file before anything is loaded.

use crate::error::{EmbeddedError, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// An opened and validated GGUF file.
pub(crate) struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    reader: BufReader<File>,
}

impl GgufFile {
    /// Opens `path`, checks magic, header and tensor extents.
    pub fn open(path: &Path) -> Result<Self> {
        let path = path.to_path_buf();
        let file = open_existing(&path)?;
        let file_len = file
            .metadata()
            .map_err(|e| EmbeddedError::io(&path, e))?
            .len();
        let mut reader = BufReader::new(file);
        check_magic(&path, &mut reader, file_len)?;
        reader
            .seek_relative(-4)
            .map_err(|e| EmbeddedError::io(&path, e))?;
        let content = Content::read(&mut reader).map_err(|e| classify_read_error(&path, e))?;
        check_extents(&path, &content, file_len)?;
        Ok(Self {
            path,
            content,
            reader,
        })
    }

    /// Reads one tensor; a missing tensor is an [`EmbeddedError::InvalidModel`].
    pub fn tensor(&mut self, name: &str) -> Result<QTensor> {
        if !self.content.tensor_infos.contains_key(name) {
            return Err(self.invalid(format!("missing tensor {name}")));
        }
        self.content
            .tensor(&mut self.reader, name, &Device::Cpu)
            .map_err(|e| self.invalid(format!("reading tensor {name}: {e}")))
    }

    /// Reads a tensor and dequantizes it to f32 (norm weights are stored as F32 anyway).
    pub fn tensor_f32(&mut self, name: &str) -> Result<Tensor> {
        Ok(self.tensor(name)?.dequantize(&Device::Cpu)?)
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    pub fn invalid(&self, detail: impl Into<String>) -> EmbeddedError {
        EmbeddedError::InvalidModel {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    pub fn get(&self, key: &str) -> Result<&Value> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| self.invalid(format!("missing metadata key {key}")))
    }

    pub fn get_opt(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub fn get_usize(&self, key: &str) -> Result<usize> {
        let v = self.get(key)?;
        let n = match v {
            Value::U8(x) => u64::from(*x),
            Value::U16(x) => u64::from(*x),
            Value::U32(x) => u64::from(*x),
            Value::U64(x) => *x,
            Value::I32(x) if *x >= 0 => *x as u64,
            Value::I64(x) if *x >= 0 => *x as u64,
            other => return Err(self.invalid(format!("{key} is {other:?}, expected an integer"))),
        };
        usize::try_from(n).map_err(|_| self.invalid(format!("{key} = {n} is too large")))
    }

    pub fn get_f32(&self, key: &str) -> Result<f32> {
        match self.get(key)? {
            Value::F32(x) => Ok(*x),
            Value::F64(x) => Ok(*x as f32),
            other => Err(self.invalid(format!("{key} is {other:?}, expected a float"))),
        }
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        match self.get(key)? {
            Value::String(s) => Ok(s),
            other => Err(self.invalid(format!("{key} is {other:?}, expected a string"))),
        }
    }
}

fn open_existing(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            EmbeddedError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            EmbeddedError::io(path, e)
        }
    })
}

fn check_magic(path: &Path, reader: &mut impl Read, file_len: u64) -> Result<()> {
    let mut magic = [0u8; 4];
    let n = reader
        .read(&mut magic)
        .map_err(|e| EmbeddedError::io(path, e))?;
    if n == 4 && &magic == b"GGUF" {
        return Ok(());
    }
    if n < 4 && b"GGUF".starts_with(&magic[..n]) && n > 0 {
        return Err(EmbeddedError::Truncated {
            path: path.to_path_buf(),
            detail: format!("only {file_len} bytes, the GGUF header needs at least 24"),
        });
    }
    Err(EmbeddedError::NotGguf {
        path: path.to_path_buf(),
        detail: format!(
            "starts with {:?} (file is {file_len} bytes), expected the magic \"GGUF\"",
            String::from_utf8_lossy(&magic[..n])
        ),
    })
}

/// Tells a file that ends early from one that is malformed.
fn classify_read_error(path: &Path, err: candle_core::Error) -> EmbeddedError {
    let eof = match &err {
        candle_core::Error::Io(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        other => {
            let msg = other.to_string();
            msg.contains("remaining") || msg.contains("fill whole buffer")
        }
    };
    if eof {
        EmbeddedError::Truncated {
            path: path.to_path_buf(),
            detail: format!("the header ends early ({err})"),
        }
    } else {
        EmbeddedError::InvalidModel {
            path: path.to_path_buf(),
            detail: format!("unreadable GGUF header: {err}"),
        }
    }
}

/// Byte size of a tensor of `elems` elements of `dtype`.
pub(crate) fn tensor_bytes(dtype: GgmlDType, elems: usize) -> Option<u64> {
    let block = dtype.block_size();
    if !elems.is_multiple_of(block) {
        return None;
    }
    (elems / block)
        .checked_mul(dtype.type_size())
        .map(|b| b as u64)
}

fn check_extents(path: &Path, content: &Content, file_len: u64) -> Result<()> {
    let mut needed_end = content.tensor_data_offset;
    let mut last = None;
    for (name, info) in &content.tensor_infos {
        let bytes = tensor_bytes(info.ggml_dtype, info.shape.elem_count()).ok_or_else(|| {
            EmbeddedError::InvalidModel {
                path: path.to_path_buf(),
                detail: format!("tensor {name} has a shape that does not fit its block size"),
            }
        })?;
        let end = content
            .tensor_data_offset
            .saturating_add(info.offset)
            .saturating_add(bytes);
        if end > needed_end {
            needed_end = end;
            last = Some(name.as_str());
        }
    }
    if needed_end > file_len {
        return Err(EmbeddedError::Truncated {
            path: path.to_path_buf(),
            detail: format!(
                "tensor {} ends at byte {needed_end} but the file has {file_len} bytes",
                last.unwrap_or("?")
            ),
        });
    }
    Ok(())
}
