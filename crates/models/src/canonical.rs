//! Byte-stable safetensors files. burn-store writes the header's `__metadata__` from a `HashMap`,
//! so the same weights saved twice can differ in key order; every content fingerprint (the
//! demo's cache keys, checkpoint manifests) would then see a change that is not there.

use std::collections::BTreeMap;

/// `bytes` (a whole safetensors file) with every header key in sorted order; the tensors' bytes
/// are untouched (their offsets count from the end of the header, so its length may change).
pub fn canonical_safetensors(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let len = bytes.get(..8).ok_or("shorter than a safetensors header length")?;
    let n = usize::try_from(u64::from_le_bytes(len.try_into().expect("8 bytes"))).map_err(|e| e.to_string())?;
    let header = bytes.get(8..8 + n).ok_or("the header length runs past the end of the file")?;
    // BTreeMaps at both levels: sorted whatever serde_json's map type is.
    let header: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
        serde_json::from_slice(header).map_err(|e| format!("header: {e}"))?;
    let mut json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    // Spaces to an 8-byte boundary, as the format's writers do, so the data stays aligned.
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn metadata_order_no_longer_changes_the_bytes() {
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let t = r#""w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;
        let a = file(&format!(r#"{{"__metadata__":{{"version":"1","producer":"burn"}},{t}}}"#), &data);
        let b = file(&format!(r#"{{{t},"__metadata__":{{"producer":"burn","version":"1"}}}}"#), &data);
        assert_ne!(a, b);
        let (ca, cb) = (canonical_safetensors(&a).unwrap(), canonical_safetensors(&b).unwrap());
        assert_eq!(ca, cb);
        // Still a valid file with the same tensor, and its data aligned.
        let st = safetensors::SafeTensors::deserialize(&ca).unwrap();
        assert_eq!(st.tensor("w").unwrap().data(), &data);
        assert_eq!(u64::from_le_bytes(ca[..8].try_into().unwrap()) % 8, 0);
        assert!(canonical_safetensors(&a[..5]).is_err());
    }
}
