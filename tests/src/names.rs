//! The odd-names corpus: names every backend must carry unchanged (or skip by a named
//! rule). Backend tests send each one through the whole engine in both directions.

/// Names that must round-trip unchanged, each with whether the spec's rules skip it.
pub fn odd_names() -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = [
        "with space.txt",
        "multiple   spaces.txt",
        "100% done.txt",
        "%41%42 looks encoded.txt",
        "%2F not a slash.txt",
        "#hash first.txt",
        "a#b.txt",
        "a&b.txt",
        "a+b.txt",
        "1+1=2.txt",
        "it's.txt",
        "'single quoted'.txt",
        "semi;colon.txt",
        "comma,name.txt",
        "at@sign.txt",
        "dollar$.txt",
        "brackets[1].txt",
        "braces{x}.txt",
        "paren (1).txt",
        "tilde~in.txt",
        "caret^.txt",
        "backtick`.txt",
        "exclaim!.txt",
        "emoji 😀.txt",
        "family 👨‍👩‍👧.txt",
        "nfc/caf\u{e9}.txt",
        "nfd/cafe\u{301}.txt",
        "עברית.txt",
        "مرحبا بالعالم.txt",
        "日本語のファイル.txt",
        "Ünïcödé ß.txt",
        "dir with space/inner file.txt",
        "dir%25/x#y&z.txt",
        "-dash start.txt",
        "+plus start.txt",
    ]
    .iter()
    .map(|s| (s.to_string(), false))
    .collect();
    v.push((format!("{}.txt", "a".repeat(196)), false));
    v.push((format!("{}.txt", "é".repeat(98)), false));
    v.push(("what?.txt".into(), true));
    v
}
