//! Amounts as banks write them, to integer minor units.

/// Decimal places of a currency's minor unit (ISO 4217); 2 when unknown.
pub fn exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XOF" | "XAF" | "PYG" | "UGX" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
        _ => 2,
    }
}

/// Which character separates the decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Decimal {
    /// `1,234.56`
    Point,
    /// `1.234,56`
    Comma,
}

/// The decimal separator most amounts in `samples` use: a comma followed
/// by one or two digits at the end means comma decimals.
pub fn detect(samples: &[&str]) -> Decimal {
    let (mut comma, mut point) = (0, 0);
    for s in samples {
        let t = s.trim().trim_end_matches(['-', ')']);
        let digits_after = |sep: char| {
            t.rfind(sep)
                .map(|i| t[i + 1..].chars().take_while(char::is_ascii_digit).count())
        };
        match (digits_after(','), digits_after('.')) {
            (Some(c), Some(p)) => {
                if t.rfind(',') > t.rfind('.') {
                    comma += usize::from(c <= 2) + 1;
                } else {
                    point += usize::from(p <= 2) + 1;
                }
            }
            (Some(c), None) if c <= 2 => comma += 1,
            (None, Some(p)) if p <= 2 => point += 1,
            _ => {}
        }
    }
    if comma > point {
        Decimal::Comma
    } else {
        Decimal::Point
    }
}

/// `-1.234,56 €`, `(12.50)`, `12.50-`, `+$7,971.39`, `1'234.50` → minor
/// units with `exp` decimals. More decimals than the currency has are
/// rounded half away from zero (CAMT allows five).
pub fn parse_amount(text: &str, decimal: Decimal, exp: u32) -> Result<i64, String> {
    let raw = text.trim();
    if raw.is_empty() {
        return Err("no amount".into());
    }
    let mut negative = false;
    let strip = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || c.is_alphabetic() || "$€£¥₹₩₽¤".contains(c))
            .to_owned()
    };
    let mut t = strip(raw);
    if t.starts_with('(') && t.ends_with(')') {
        negative = true;
        t = t[1..t.len() - 1].to_owned();
    }
    let t = strip(&t);
    let (t, trailing_minus) = match t.strip_suffix('-') {
        Some(r) => (strip(r), true),
        None => (t.clone(), false),
    };
    let t = t.as_str();
    negative ^= trailing_minus;
    let (sep, group) = match decimal {
        Decimal::Point => ('.', ','),
        Decimal::Comma => (',', '.'),
    };
    let mut int = String::new();
    let mut frac = String::new();
    let mut in_frac = false;
    let mut seen_digit = false;
    for c in t.chars() {
        match c {
            '-' | '\u{2212}' if !seen_digit => negative = !negative,
            '+' if !seen_digit => {}
            d if d.is_ascii_digit() => {
                seen_digit = true;
                if in_frac {
                    frac.push(d);
                } else {
                    int.push(d);
                }
            }
            c if c == sep && !in_frac => in_frac = true,
            c if c == group || c == '\'' || c == ' ' || c == '\u{a0}' || c == '\u{202f}' => {
                if in_frac {
                    return Err(format!("{raw:?} is not an amount"));
                }
            }
            c if !seen_digit && (c.is_alphabetic() || "$€£¥₹₩₽¤".contains(c)) => {}
            c if seen_digit && (c.is_alphabetic() || "$€£¥₹₩₽¤".contains(c)) => {}
            _ => return Err(format!("{raw:?} is not an amount")),
        }
    }
    if !seen_digit {
        return Err(format!("{raw:?} is not an amount"));
    }
    let exp = exp as usize;
    let scale = 10i128.pow(exp as u32);
    let int_part: i128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| format!("{raw:?} is too large"))?
    };
    let mut kept: String = frac.chars().take(exp).collect();
    while kept.len() < exp {
        kept.push('0');
    }
    let mut minor: i128 = int_part
        .checked_mul(scale)
        .ok_or_else(|| format!("{raw:?} is too large"))?
        + if kept.is_empty() {
            0
        } else {
            kept.parse::<i128>().unwrap_or(0)
        };
    if frac.chars().nth(exp).is_some_and(|d| d >= '5') {
        minor += 1;
    }
    let minor = if negative { -minor } else { minor };
    i64::try_from(minor).map_err(|_| format!("{raw:?} is too large"))
}

/// Minor units back to text: `-1234.56 EUR`.
pub fn format(amount_minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    if exp == 0 {
        return format!("{sign}{abs} {currency}");
    }
    let scale = 10u64.pow(exp);
    format!(
        "{sign}{}.{:0width$} {currency}",
        abs / scale,
        abs % scale,
        width = exp as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_banks_write_them() {
        let p = |t, d| parse_amount(t, d, 2);
        assert_eq!(p("1.234,56", Decimal::Comma), Ok(123_456));
        assert_eq!(p("-1.234,56 €", Decimal::Comma), Ok(-123_456));
        assert_eq!(p("1,234.56", Decimal::Point), Ok(123_456));
        assert_eq!(p("-$7,971.39", Decimal::Point), Ok(-797_139));
        assert_eq!(p("(12.50)", Decimal::Point), Ok(-1_250));
        assert_eq!(p("12.50-", Decimal::Point), Ok(-1_250));
        assert_eq!(p("1'234.5", Decimal::Point), Ok(123_450));
        assert_eq!(p("12", Decimal::Comma), Ok(1_200));
        assert_eq!(p("+0,07", Decimal::Comma), Ok(7));
        assert_eq!(p("1 234,56", Decimal::Comma), Ok(123_456));
        assert_eq!(parse_amount("12.34567", Decimal::Point, 2), Ok(1_235));
        assert_eq!(parse_amount("1500", Decimal::Point, 0), Ok(1_500));
        assert!(p("abc", Decimal::Point).is_err());
        assert!(p("", Decimal::Point).is_err());
        assert!(p("1.2.3,4", Decimal::Point).is_err());
        assert_eq!(format(-123_456, "EUR"), "-1234.56 EUR");
        assert_eq!(format(5, "JPY"), "5 JPY");
    }

    #[test]
    fn the_decimal_separator_is_detected() {
        assert_eq!(detect(&["1.234,56", "-12,00", "3,5"]), Decimal::Comma);
        assert_eq!(detect(&["1,234.56", "-12.00"]), Decimal::Point);
        assert_eq!(detect(&["12", "40"]), Decimal::Point);
    }
}
