//! A statement's bytes as text: UTF-8 (a BOM dropped), UTF-16 with or
//! without a BOM, else Windows-1252 (which covers ISO-8859-1 as banks use
//! it) — the encodings banks export in.

pub(crate) fn decode(bytes: &[u8]) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned();
    }
    // UTF-16 without a BOM: every other byte of ASCII text is zero.
    let sample = &bytes[..bytes.len().min(200)];
    let zeros_even = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let zeros_odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    if sample.len() >= 8 && zeros_odd * 3 > sample.len() && zeros_even == 0 {
        return encoding_rs::UTF_16LE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned();
    }
    if sample.len() >= 8 && zeros_even * 3 > sample.len() && zeros_odd == 0 {
        return encoding_rs::UTF_16BE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn banks_encodings() {
        assert_eq!(decode(b"Caf\xe9;12,50"), "Café;12,50");
        assert_eq!(decode("\u{feff}Café".as_bytes()), "Café");
        let mut le = vec![0xFF, 0xFE];
        let mut bare = Vec::new();
        for u in "Datum;Betrag\nMüller".encode_utf16() {
            le.extend(u.to_le_bytes());
            bare.extend(u.to_le_bytes());
        }
        assert_eq!(decode(&le), "Datum;Betrag\nMüller");
        assert_eq!(decode(&bare), "Datum;Betrag\nMüller");
    }
}
