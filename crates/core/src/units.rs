//! Byte sizes and transfer rates as users type them (`10K`, `1.5 MiB`, `2M/s`, `off`) and
//! as the UI shows them (`4.0 KiB`).
//!
//! Every unit is binary: `K`, `KB` and `KiB` all mean 1024 bytes, `M` means 1024², and so
//! on up to `P`/`E`. Storage vendors use decimal gigabytes, but the spec's limits (10 GB)
//! are meant as binary, and one meaning for every spelling avoids surprises.

/// Why a size or rate could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Nothing (or only spaces) was given.
    #[error("empty size: expected a number such as 10M or 1.5G")]
    Empty,
    /// The value had a minus sign.
    #[error("size {0:?} is negative")]
    Negative(String),
    /// The number part was missing or malformed.
    #[error("size {0:?} does not start with a number (expected e.g. 10M or 1.5G)")]
    BadNumber(String),
    /// The unit after the number is not one we know.
    #[error("size {input:?} has unknown unit {unit:?} (use B, K, M, G, T, P or E)")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unrecognised unit.
        unit: String,
    },
    /// A fraction of a byte was asked for (`1.5` or `0.5B`).
    #[error("size {0:?} is not a whole number of bytes")]
    FractionalBytes(String),
    /// The value does not fit in 64 bits.
    #[error("size {0:?} is too large")]
    Overflow(String),
}

/// Binary unit prefixes, index = power of 1024.
const PREFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];

/// Parses a byte size: a decimal number, optional spaces, an optional binary unit.
///
/// Accepted units (case-insensitive): none or `B` (bytes), `K`/`KB`/`KiB` (1024), `M`/`MB`/
/// `MiB` (1024²), `G`, `T`, `P`, `E` likewise. A fraction is allowed with a unit and is
/// rounded down to whole bytes (`1.5K` = 1536); the number must be `digits` or
/// `digits.digits`.
///
/// # Errors
/// [`UnitError`] for empty, negative, malformed, unknown-unit, fractional-byte or
/// overflowing input.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(UnitError::Empty);
    }
    if input.starts_with('-') {
        return Err(UnitError::Negative(input.to_string()));
    }
    let num_end = input
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(input.len());
    let (number, rest) = input.split_at(num_end);
    let unit = rest.trim_start();
    let power = unit_power(unit).ok_or_else(|| UnitError::UnknownUnit {
        input: input.to_string(),
        unit: unit.to_string(),
    })?;

    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    let well_formed = !int_part.is_empty()
        && (number.contains('.') != frac_part.is_empty())
        && frac_part.chars().all(|c| c.is_ascii_digit());
    if !well_formed {
        return Err(UnitError::BadNumber(input.to_string()));
    }

    let overflow = || UnitError::Overflow(input.to_string());
    let multiplier = 1024u128.pow(power);
    let mut whole: u128 = 0;
    for d in int_part.bytes() {
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u128::from(d - b'0')))
            .ok_or_else(overflow)?;
        // Anything past u64 is already too big; stopping here keeps u128 from overflowing
        // on absurdly long inputs.
        if whole > u128::from(u64::MAX) {
            return Err(overflow());
        }
    }
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(overflow)?;

    // Digits past the 18th cannot change the result by a whole byte (1024^6 < 10^19), so
    // ignoring them keeps the arithmetic inside u128.
    let frac_digits = &frac_part[..frac_part.len().min(18)];
    if !frac_digits.is_empty() {
        let mut frac: u128 = 0;
        for d in frac_digits.bytes() {
            frac = frac * 10 + u128::from(d - b'0');
        }
        let scale = 10u128.pow(u32::try_from(frac_digits.len()).unwrap_or(18));
        let frac_bytes = frac * multiplier;
        if power == 0 && frac != 0 {
            return Err(UnitError::FractionalBytes(input.to_string()));
        }
        bytes = bytes.checked_add(frac_bytes / scale).ok_or_else(overflow)?;
    }
    u64::try_from(bytes).map_err(|_| overflow())
}

/// Parses a bandwidth limit in bytes per second: a size as [`parse_size`] takes it, with an
/// optional `/s` suffix (`2M/s`, `500 KiB/s`).
///
/// `off`, `unlimited`, `none` and any spelling of zero mean "no limit" and give `None`.
///
/// # Errors
/// As [`parse_size`].
pub fn parse_rate(s: &str) -> Result<Option<u64>, UnitError> {
    let input = s.trim();
    if ["off", "unlimited", "none"]
        .iter()
        .any(|w| input.eq_ignore_ascii_case(w))
    {
        return Ok(None);
    }
    let lower = input.to_ascii_lowercase();
    let size_part = match lower.strip_suffix("/s") {
        // Slicing the original keeps error messages in the user's spelling; the suffix is
        // ASCII so the byte offset is the same in both strings.
        Some(stripped) => &input[..stripped.len()],
        None => input,
    };
    let bytes = parse_size(size_part)?;
    Ok(if bytes == 0 { None } else { Some(bytes) })
}

/// Formats a byte count for people: bytes below 1 KiB (`512 B`), otherwise one decimal in
/// the largest binary unit that keeps the number at least 1 (`4.0 KiB`, `1.5 GiB`).
pub fn format_bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut power: u32 = 1;
    while power < 6 && n >= 1u64 << (10 * (power + 1)) {
        power += 1;
    }
    // f64 loses precision only above 2^53 bytes, far below the one-decimal resolution shown.
    let mut value = n as f64 / (1u64 << (10 * power)) as f64;
    // 1023.96 KiB would print as "1024.0 KiB"; show it as the next unit instead.
    if format!("{value:.1}") == "1024.0" && power < 6 {
        power += 1;
        value /= 1024.0;
    }
    format!("{value:.1} {}iB", prefix(power))
}

/// Like [`format_bytes`], but an exact multiple of a unit is shown without a decimal
/// (`10 GiB`, `512 KiB`). Meant for limits, which users usually set to round numbers.
pub fn format_bytes_compact(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut power = 0u32;
    let mut value = n;
    while value >= 1024 && value.trailing_zeros() >= 10 {
        value /= 1024;
        power += 1;
    }
    if power == 0 || value >= 1024 {
        return format_bytes(n);
    }
    format!("{value} {}iB", prefix(power))
}

/// The unit letter for a power of 1024.
fn prefix(power: u32) -> &'static str {
    usize::try_from(power)
        .ok()
        .and_then(|p| PREFIXES.get(p))
        .copied()
        .unwrap_or("?")
}

/// The power of 1024 a unit stands for, or `None` when it is not a unit.
fn unit_power(unit: &str) -> Option<u32> {
    let u = unit.to_ascii_lowercase();
    if u.is_empty() || u == "b" {
        return Some(0);
    }
    let mut chars = u.chars();
    let letter = chars.next()?;
    let tail = chars.as_str();
    if !matches!(tail, "" | "b" | "ib") {
        return None;
    }
    match letter {
        'k' => Some(1),
        'm' => Some(2),
        'g' => Some(3),
        't' => Some(4),
        'p' => Some(5),
        'e' => Some(6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    const TIB: u64 = 1024 * GIB;

    fn size(s: &str) -> u64 {
        parse_size(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    #[test]
    fn plain_numbers_are_bytes() {
        assert_eq!(size("0"), 0);
        assert_eq!(size("1234"), 1234);
        assert_eq!(size("1234B"), 1234);
        assert_eq!(size("  77 b "), 77);
        assert_eq!(size("18446744073709551615"), u64::MAX);
    }

    #[test]
    fn every_spelling_of_a_unit_is_binary() {
        for s in [
            "10K", "10KB", "10KiB", "10k", "10kb", "10kib", "10 K", "10 KiB", "10KIB",
        ] {
            assert_eq!(size(s), 10 * KIB, "{s}");
        }
        assert_eq!(size("1.5M"), 1536 * KIB);
        assert_eq!(size("2G"), 2 * GIB);
        assert_eq!(size("1T"), TIB);
        assert_eq!(size("1P"), 1024 * TIB);
        assert_eq!(size("1E"), 1024 * 1024 * TIB);
        assert_eq!(size("10GB"), 10 * GIB);
    }

    #[test]
    fn fractions_round_down_to_whole_bytes() {
        assert_eq!(size("1.1K"), 1126);
        assert_eq!(size("0.5K"), 512);
        assert_eq!(size("1.0B"), 1);
        assert_eq!(size("0.000000000000000000001G"), 0);
        assert_eq!(size("1.999999999999999999999K"), 2047);
    }

    #[test]
    fn rejects_bad_input_with_the_input_named() {
        assert_eq!(parse_size(""), Err(UnitError::Empty));
        assert_eq!(parse_size("   "), Err(UnitError::Empty));
        assert_eq!(parse_size("-1"), Err(UnitError::Negative("-1".into())));
        assert_eq!(parse_size("-1K"), Err(UnitError::Negative("-1K".into())));
        for bad in ["K", ".5K", "1.K", "1..2K", "1.2.3", "abc"] {
            assert!(
                matches!(
                    parse_size(bad),
                    Err(UnitError::BadNumber(_) | UnitError::UnknownUnit { .. })
                ),
                "{bad:?} accepted"
            );
        }
        let err = parse_size("10X").expect_err("X is no unit");
        assert_eq!(
            err,
            UnitError::UnknownUnit {
                input: "10X".into(),
                unit: "X".into()
            }
        );
        assert!(err.to_string().contains("\"X\""), "{err}");
        for bad in ["10KK", "10Kibi", "10 K B", "1e3"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_size("1.5"),
            Err(UnitError::FractionalBytes("1.5".into()))
        );
        assert!(matches!(
            parse_size("0.5B"),
            Err(UnitError::FractionalBytes(_))
        ));
    }

    #[test]
    fn rejects_overflow() {
        for big in [
            "18446744073709551616",
            "16E",
            "17179869184G",
            "99999999999999999999999999999999999999999999999",
        ] {
            assert_eq!(
                parse_size(big),
                Err(UnitError::Overflow(big.into())),
                "{big}"
            );
        }
        assert_eq!(size("15.5E"), 31 * (1u64 << 59));
    }

    #[test]
    fn rates_accept_per_second_and_off() {
        assert_eq!(parse_rate("2M/s"), Ok(Some(2 * MIB)));
        assert_eq!(parse_rate("500 KiB/s"), Ok(Some(500 * KIB)));
        assert_eq!(parse_rate("500 kib/S"), Ok(Some(500 * KIB)));
        assert_eq!(parse_rate("1024"), Ok(Some(1024)));
        for none in ["off", "OFF", "unlimited", "none", "0", "0K/s", " 0 "] {
            assert_eq!(parse_rate(none), Ok(None), "{none}");
        }
        assert_eq!(parse_rate(""), Err(UnitError::Empty));
        assert_eq!(parse_rate("/s"), Err(UnitError::Empty));
        assert!(matches!(parse_rate("-5M/s"), Err(UnitError::Negative(_))));
        assert!(matches!(
            parse_rate("5X/s"),
            Err(UnitError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn formats_human_sizes() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.0 KiB");
        assert_eq!(format_bytes(4 * KIB), "4.0 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(GIB), "1.0 GiB");
        assert_eq!(format_bytes(12 * GIB + 300 * MIB), "12.3 GiB");
        assert_eq!(format_bytes(MIB - 1), "1.0 MiB");
        assert_eq!(format_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn compact_format_drops_the_decimal_for_round_limits() {
        assert_eq!(format_bytes_compact(10 * GIB), "10 GiB");
        assert_eq!(format_bytes_compact(512 * KIB), "512 KiB");
        assert_eq!(format_bytes_compact(1024 * MIB), "1 GiB");
        assert_eq!(format_bytes_compact(100), "100 B");
        assert_eq!(format_bytes_compact(1536), "1.5 KiB");
        assert_eq!(format_bytes_compact(1025), "1.0 KiB");
    }

    #[test]
    fn formatted_sizes_parse_back_close_to_the_original() {
        for n in [1024, 5000, 123_456_789, 10 * GIB, 3 * TIB + 17] {
            let shown = format_bytes(n);
            let back = size(&shown);
            // One decimal of a unit is within 5% of any value at least that unit.
            let tolerance = n / 20 + 1;
            assert!(back.abs_diff(n) <= tolerance, "{n} -> {shown} -> {back}");
        }
        for n in [0, 1, 1023, 10 * GIB, 512 * KIB, 7 * TIB] {
            assert_eq!(size(&format_bytes_compact(n)), n);
        }
    }
}
