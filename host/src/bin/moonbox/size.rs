//! Parsing of `--memory` sizes.

/// Parses a byte count: `1048576`, `512KiB`, `16MiB` (or `GiB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(format!(
            "'{text}' is not a size: expected bytes or a number with KiB or MiB"
        ));
    }
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("unknown size unit '{other}': use KiB or MiB")),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("'{number}' is too large"))?;
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("'{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn accepts_bytes_and_binary_suffixes() {
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("16MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_size("2 MiB"), Ok(2 * 1024 * 1024));
    }

    #[test]
    fn rejects_unknown_units_and_overflow() {
        assert!(parse_size("16MB").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("17179869184GiB").is_err());
    }
}
