//! `model.safetensors` read a tensor, or a few rows of one, at a time:
//! ONNX Runtime's engine never holds the whole file in memory. Its graph's
//! weights are read straight into the buffers ONNX Runtime keeps, and the
//! vocabulary table (47 MB of the 90) is not loaded at all: each batch
//! reads the rows of the tokens it holds (see `onnx`).
//!
//! **Invariants:** reads only the file it was opened on, by offset (no
//! seek state, so one `WeightFile` serves concurrent readers); every read
//! is checked against the header's dtype and shape; little-endian f32 only
//! (what sentence-transformers ships).

use std::fs::File;
use std::path::Path;

use safetensors::Dtype;
use safetensors::tensor::{Metadata, TensorInfo};

/// Bytes read per system call when streaming a tensor: below glibc's
/// initial mmap threshold, so loading leaves no large freed blocks behind
/// (they would stay in the heap: see `onnx`).
const CHUNK: usize = 64 * 1024;
/// A header larger than this is not a model we know.
const MAX_HEADER: u64 = 100 * 1024 * 1024;

/// An open safetensors file and its parsed header.
#[derive(Debug)]
pub(crate) struct WeightFile {
    file: File,
    /// Offset of the first tensor's bytes (after the length and the header).
    data_start: u64,
    meta: Metadata,
}

impl WeightFile {
    /// Opens `path` and reads its header; a file shorter than its header
    /// says is an error.
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let mut n = [0u8; 8];
        read_at(&file, 0, &mut n).map_err(|e| format!("no header ({e})"))?;
        let n = u64::from_le_bytes(n);
        if n > MAX_HEADER || n + 8 > len {
            return Err(format!("header length {n} does not fit the file"));
        }
        let mut header = vec![0u8; n as usize];
        read_at(&file, 8, &mut header).map_err(|e| e.to_string())?;
        let meta: Metadata =
            serde_json::from_slice(&header).map_err(|e| format!("bad header: {e}"))?;
        let data_start = 8 + n;
        if data_start + meta.data_len() as u64 > len {
            return Err(format!(
                "the header describes {} bytes of tensors, the file holds {}",
                meta.data_len(),
                len - data_start
            ));
        }
        Ok(Self {
            file,
            data_start,
            meta,
        })
    }

    fn info(&self, name: &str) -> Result<&TensorInfo, String> {
        let info = self
            .meta
            .info(name)
            .ok_or_else(|| format!("no {name} in model.safetensors"))?;
        if info.dtype != Dtype::F32 {
            return Err(format!("{name} is {:?}, not F32", info.dtype));
        }
        Ok(info)
    }

    /// The tensor's shape.
    pub(crate) fn shape(&self, name: &str) -> Result<&[usize], String> {
        Ok(&self.info(name)?.shape)
    }

    /// Streams the tensor's values in file order (row-major) to `put`,
    /// with each one's index.
    pub(crate) fn each(&self, name: &str, mut put: impl FnMut(usize, f32)) -> Result<(), String> {
        let info = self.info(name)?;
        let (start, end) = info.data_offsets;
        let mut buf = vec![0u8; CHUNK.min(end - start)];
        let mut at = start;
        let mut index = 0;
        while at < end {
            let bytes = &mut buf[..CHUNK.min(end - at)];
            read_at(&self.file, self.data_start + at as u64, bytes)
                .map_err(|e| format!("{name}: {e}"))?;
            for b in bytes.chunks_exact(4) {
                put(index, f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                index += 1;
            }
            at += bytes.len();
        }
        Ok(())
    }

    /// The tensor's values into `out`, which must have its length.
    pub(crate) fn read(&self, name: &str, out: &mut [f32]) -> Result<(), String> {
        let count: usize = self.shape(name)?.iter().product();
        if count != out.len() {
            return Err(format!("{name} holds {count} values, not {}", out.len()));
        }
        self.each(name, |i, v| out[i] = v)
    }

    /// The tensor as a new vector.
    pub(crate) fn vector(&self, name: &str) -> Result<Vec<f32>, String> {
        let mut out = vec![0f32; self.shape(name)?.iter().product()];
        self.read(name, &mut out)?;
        Ok(out)
    }

    /// Rows `rows` of a matrix, one after another into `out`
    /// (`rows.len() × columns` values).
    pub(crate) fn rows(&self, name: &str, rows: &[u32], out: &mut [f32]) -> Result<(), String> {
        let info = self.info(name)?;
        let [count, cols] = info.shape[..] else {
            return Err(format!("{name} is not a matrix"));
        };
        if out.len() != rows.len() * cols {
            return Err(format!("{} rows of {name} do not fit", rows.len()));
        }
        let mut bytes = vec![0u8; cols * 4];
        for (&r, dst) in rows.iter().zip(out.chunks_exact_mut(cols)) {
            if r as usize >= count {
                return Err(format!("row {r} of {name}, which has {count}"));
            }
            let at = info.data_offsets.0 + r as usize * cols * 4;
            read_at(&self.file, self.data_start + at as u64, &mut bytes)
                .map_err(|e| format!("{name}: {e}"))?;
            for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(4)) {
                *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::WeightFile;

    fn file(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> tempfile::NamedTempFile {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (name, shape, values) in tensors {
            let start = data.len();
            data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            header.insert(
                (*name).to_owned(),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
            );
        }
        let header = serde_json::Value::Object(header).to_string();
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn reads_whole_tensors_rows_and_streams_past_one_chunk() {
        let big: Vec<f32> = (0..40_000).map(|i| i as f32).collect();
        let f = file(&[
            ("a", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ("big", vec![40_000], big.clone()),
        ]);
        let w = WeightFile::open(f.path()).unwrap();
        assert_eq!(w.shape("a").unwrap(), [2, 3]);
        assert_eq!(w.vector("a").unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(w.vector("big").unwrap(), big);
        let mut out = vec![0.0; 6];
        w.rows("a", &[1, 0], &mut out).unwrap();
        assert_eq!(out, [4.0, 5.0, 6.0, 1.0, 2.0, 3.0]);
        assert!(
            w.rows("a", &[2], &mut out[..3]).is_err(),
            "row past the end"
        );
        assert!(w.read("a", &mut out[..5]).is_err(), "wrong length");
        assert!(w.vector("missing").unwrap_err().contains("no missing"));
    }

    #[test]
    fn a_truncated_file_is_refused() {
        let f = file(&[("a", vec![4], vec![1.0, 2.0, 3.0, 4.0])]);
        let len = std::fs::metadata(f.path()).unwrap().len();
        let bytes = std::fs::read(f.path()).unwrap();
        std::fs::write(f.path(), &bytes[..(len - 4) as usize]).unwrap();
        let err = WeightFile::open(f.path()).unwrap_err();
        assert!(err.contains("the file holds"), "{err}");
        std::fs::write(f.path(), b"garbage").unwrap();
        assert!(WeightFile::open(f.path()).is_err());
    }
}
