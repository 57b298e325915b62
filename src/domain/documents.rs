//! What a document is, from its content (never its name or the type the browser claims), and
//! whether Haven may keep it. Haven takes documents only: PDF, plain text, Word (.docx), Excel
//! (.xlsx) and OpenDocument text (.odt). Every image and video is refused, and so is a document
//! that carries one (a PDF with a picture, a Word file with a picture in it), because making or
//! holding an indecent image of a child is a crime, copies "as evidence" included.

use std::io::Read;

/// The largest document Haven keeps (the database refuses more too).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Text,
    Docx,
    Xlsx,
    Odt,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Text => "text/plain",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Odt => "application/vnd.oasis.opendocument.text",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Text => "txt",
            Kind::Docx => "docx",
            Kind::Xlsx => "xlsx",
            Kind::Odt => "odt",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Kind::Pdf => "PDF",
            Kind::Text => "Plain text",
            Kind::Docx => "Word document",
            Kind::Xlsx => "Excel spreadsheet",
            Kind::Odt => "OpenDocument text",
        }
    }
    pub fn from_content_type(t: &str) -> Option<Kind> {
        [Kind::Pdf, Kind::Text, Kind::Docx, Kind::Xlsx, Kind::Odt]
            .into_iter()
            .find(|k| k.content_type() == t)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("The file is empty")]
    Empty,
    #[error("The file is larger than 10 MB")]
    TooLarge,
    #[error(
        "This is {0}. Haven never keeps images or videos: making or holding an indecent image of a child is a crime, and that includes copies kept as evidence. Leave it with the police"
    )]
    Picture(&'static str),
    #[error(
        "This document has a picture or video in it. Haven never keeps images: making or holding an indecent image of a child is a crime, and that includes copies kept as evidence. Save it without the pictures, or describe them in words"
    )]
    HoldsPicture,
    #[error(
        "This document has files or scripts attached to it. Save it as a plain PDF, Word or text document"
    )]
    HoldsAttachment,
    #[error(
        "This document carries a preview picture of its first page, which Haven does not keep. In LibreOffice, untick \"Save preview image with this document\" (Tools, Options, Load/Save, General), save it again and add it"
    )]
    HoldsPreview,
    #[error(
        "Haven takes PDF, Word (.docx), Excel (.xlsx), OpenDocument text (.odt) and plain text documents only"
    )]
    Unknown,
}

/// What the bytes are, or why Haven refuses them.
pub fn classify(bytes: &[u8]) -> Result<Kind, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(Refusal::TooLarge);
    }
    if let Some(what) = picture(bytes) {
        return Err(Refusal::Picture(what));
    }
    if bytes.starts_with(b"%PDF-") {
        return pdf(bytes).map(|_| Kind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return office(bytes);
    }
    text(bytes)
}

/// Images and videos by their signatures.
fn picture(b: &[u8]) -> Option<&'static str> {
    let at = |i: usize, sig: &[u8]| b.len() >= i + sig.len() && &b[i..i + sig.len()] == sig;
    if at(0, b"\xFF\xD8\xFF") {
        return Some("a JPEG image");
    }
    if at(0, b"\x89PNG\r\n\x1a\n") {
        return Some("a PNG image");
    }
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return Some("a GIF image");
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Some("a WebP image");
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Some("an AVI video");
    }
    if at(0, b"BM") && b.len() > 14 && at(6, b"\0\0\0\0") {
        return Some("a bitmap image");
    }
    if at(0, b"II*\0") || at(0, b"MM\0*") {
        return Some("a TIFF image");
    }
    if at(0, b"\0\0\x01\0") || at(0, b"\0\0\x02\0") {
        return Some("an icon image");
    }
    if at(0, b"8BPS") {
        return Some("a Photoshop image");
    }
    if at(4, b"ftyp") {
        // HEIC and AVIF photographs, MP4, MOV and 3GP videos share the ISO container.
        let brand = b.get(8..12).unwrap_or(b"");
        return Some(match brand {
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => "a HEIC photograph",
            b"avif" | b"avis" => "an AVIF image",
            b"qt  " => "a QuickTime video",
            _ => "a video",
        });
    }
    if at(0, b"\x1a\x45\xdf\xa3") {
        return Some("a WebM or Matroska video");
    }
    if at(0, b"\0\0\x01\xba") || at(0, b"\0\0\x01\xb3") {
        return Some("an MPEG video");
    }
    if at(0, b"FLV\x01") {
        return Some("a Flash video");
    }
    if at(0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11") {
        return Some("a Windows Media video");
    }
    if at(0, b"\0\0\0\x0cjP  ") || at(0, b"\xff\x4f\xff\x51") {
        return Some("a JPEG 2000 image");
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// PDF names may spell any byte as `#hh` (`/Im#61ge` is `/Image`): decode them, so a mark
/// cannot hide behind an escape.
fn decode_name_escapes(b: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !b.contains(&b'#') {
        return std::borrow::Cow::Borrowed(b);
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'#'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// `/Subtype /Image` with any whitespace between, an image-only compression filter, an inline
/// image (`BI ... ID`), or an attachment or script; names are decoded first.
fn pdf_marks(raw: &[u8]) -> Result<(), Refusal> {
    let decoded = decode_name_escapes(raw);
    let b: &[u8] = &decoded;
    // Filters used only for pictures: JPEG, JPEG 2000, JBIG2 and fax images.
    for filter in [
        &b"/DCTDecode"[..],
        b"/JPXDecode",
        b"/JBIG2Decode",
        b"/CCITTFaxDecode",
    ] {
        if contains(b, filter) {
            return Err(Refusal::HoldsPicture);
        }
    }
    let mut i = 0;
    while let Some(p) = find_from(b, b"/Subtype", i) {
        let mut j = p + 8;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b[j..].starts_with(b"/Image") {
            return Err(Refusal::HoldsPicture);
        }
        i = p + 8;
    }
    // Inline images in a content stream: "BI" then a key such as /W or /Width.
    let mut i = 0;
    while let Some(p) = find_from(b, b"BI", i) {
        let before_ok = p == 0 || b[p - 1].is_ascii_whitespace();
        let mut j = p + 2;
        let mut saw_space = false;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
            saw_space = true;
        }
        if before_ok && saw_space && b[j..].starts_with(b"/") {
            let key: Vec<u8> = b[j + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .copied()
                .collect();
            if matches!(
                key.as_slice(),
                b"W" | b"Width" | b"H" | b"Height" | b"BPC" | b"CS" | b"IM"
            ) {
                return Err(Refusal::HoldsPicture);
            }
        }
        i = p + 2;
    }
    for mark in [
        &b"/EmbeddedFile"[..],
        b"/JavaScript",
        b"/JS ",
        b"/JS(",
        b"/Launch",
    ] {
        if contains(b, mark) {
            return Err(Refusal::HoldsAttachment);
        }
    }
    Ok(())
}

fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A PDF is checked as written and inside every compressed stream (object streams hide
/// dictionaries there), with the decompressed total bounded.
fn pdf(b: &[u8]) -> Result<(), Refusal> {
    pdf_marks(b)?;
    let mut budget: u64 = 64 * 1024 * 1024;
    let mut i = 0;
    while let Some(p) = find_from(b, b"stream", i) {
        let mut start = p + 6;
        if b[start..].starts_with(b"\r\n") {
            start += 2;
        } else if b[start..].starts_with(b"\n") {
            start += 1;
        } else {
            i = p + 6;
            continue;
        }
        let end = find_from(b, b"endstream", start).unwrap_or(b.len());
        let mut out = Vec::new();
        let reader = flate2::read::ZlibDecoder::new(&b[start..end]);
        // A stream that is not zlib, or is cut short, is checked as far as it inflates.
        let _ = reader.take(budget).read_to_end(&mut out);
        budget = budget.saturating_sub(out.len() as u64);
        if !out.is_empty() {
            if picture(&out).is_some() {
                return Err(Refusal::HoldsPicture);
            }
            pdf_marks(&out)?;
        }
        if budget == 0 {
            // More than 64 MB inside 10 MB: a compression bomb, not a document.
            return Err(Refusal::Unknown);
        }
        i = end;
    }
    Ok(())
}

/// The names in a ZIP file's central directory.
/// One file inside a ZIP, from its central directory.
struct ZipEntry {
    name: String,
    method: u16,
    compressed: usize,
    local_header: usize,
}

fn zip_entries(b: &[u8]) -> Option<Vec<ZipEntry>> {
    let tail_start = b.len().saturating_sub(22 + 65535);
    let eocd = (tail_start..=b.len().checked_sub(22)?)
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))?;
    let u16_at = |i: usize| Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize);
    let u32_at = |i: usize| {
        Some(
            u32::from_le_bytes([*b.get(i)?, *b.get(i + 1)?, *b.get(i + 2)?, *b.get(i + 3)?])
                as usize,
        )
    };
    let count = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)?;
    let mut entries = Vec::with_capacity(count.min(10_000));
    for _ in 0..count.min(10_000) {
        if !b.get(at..)?.starts_with(b"PK\x01\x02") {
            return None;
        }
        let (name_len, extra, comment) = (u16_at(at + 28)?, u16_at(at + 30)?, u16_at(at + 32)?);
        let name = b.get(at + 46..at + 46 + name_len)?;
        entries.push(ZipEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            method: u16_at(at + 10)? as u16,
            compressed: u32_at(at + 20)?,
            local_header: u32_at(at + 42)?,
        });
        at += 46 + name_len + extra + comment;
    }
    Some(entries)
}

/// Up to `limit` bytes of an entry's content (stored or deflated); `None` if it cannot be read.
fn zip_read(b: &[u8], e: &ZipEntry, limit: u64) -> Option<Vec<u8>> {
    let h = e.local_header;
    if !b.get(h..)?.starts_with(b"PK\x03\x04") {
        return None;
    }
    let name_len = u16::from_le_bytes([*b.get(h + 26)?, *b.get(h + 27)?]) as usize;
    let extra = u16::from_le_bytes([*b.get(h + 28)?, *b.get(h + 29)?]) as usize;
    let start = h + 30 + name_len + extra;
    let data = b.get(start..start.checked_add(e.compressed)?.min(b.len()))?;
    let mut out = Vec::new();
    match e.method {
        0 => out.extend_from_slice(&data[..data.len().min(limit as usize)]),
        8 => {
            let _ = flate2::read::DeflateDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out);
        }
        _ => return None,
    }
    Some(out)
}

const PICTURE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "jpe", "gif", "bmp", "tif", "tiff", "emf", "wmf", "svg", "webp", "heic",
    "heif", "avif", "ico", "jp2", "mp4", "mov", "avi", "wmv", "webm", "mkv", "m4v", "3gp", "mpg",
    "mpeg",
];

fn office(b: &[u8]) -> Result<Kind, Refusal> {
    let entries = zip_entries(b).ok_or(Refusal::Unknown)?;
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let kind = if has("word/document.xml") {
        Kind::Docx
    } else if has("xl/workbook.xml") {
        Kind::Xlsx
    } else if names.first().is_some_and(|n| n == "mimetype")
        && b.get(30..38) == Some(b"mimetype")
        && b.get(38..77) == Some(b"application/vnd.oasis.opendocument.text")
    {
        Kind::Odt
    } else {
        return Err(Refusal::Unknown);
    };
    if names
        .iter()
        .any(|n| n.eq_ignore_ascii_case("Thumbnails/thumbnail.png"))
    {
        return Err(Refusal::HoldsPreview);
    }
    for n in &names {
        let lower = n.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        if lower.contains("/media/")
            || lower.starts_with("pictures/")
            || lower.contains("/embeddings/")
            || PICTURE_EXTENSIONS.contains(&ext)
        {
            return Err(Refusal::HoldsPicture);
        }
        if lower.ends_with("vbaproject.bin")
            || lower.starts_with("basic/")
            || lower.starts_with("scripts/")
        {
            return Err(Refusal::HoldsAttachment);
        }
    }
    // Names can lie: look inside. Each file's first bytes must not be a picture, and the
    // package's list of content types must declare none (a picture under a neutral name still
    // has to be declared for the document to show it).
    let mut budget: u64 = 64 * 1024 * 1024;
    for e in &entries {
        let lower = e.name.to_ascii_lowercase();
        let manifest = lower == "[content_types].xml" || lower == "meta-inf/manifest.xml";
        let limit = if manifest {
            budget.min(4 * 1024 * 1024)
        } else {
            64
        };
        let Some(content) = zip_read(b, e, limit) else {
            return Err(Refusal::Unknown);
        };
        budget = budget.saturating_sub(content.len() as u64);
        if picture(&content).is_some() {
            return Err(Refusal::HoldsPicture);
        }
        if manifest {
            // A part declared by name as a picture (an Override in a Word or Excel package, a
            // file entry in an OpenDocument manifest); Defaults by extension are covered above.
            let text = String::from_utf8_lossy(&content).to_ascii_lowercase();
            let declared = text.split('<').any(|el| {
                (el.starts_with("override") || el.starts_with("manifest:file-entry"))
                    && (el.contains("image/") || el.contains("video/"))
            });
            if declared {
                return Err(Refusal::HoldsPicture);
            }
        }
        if budget == 0 {
            return Err(Refusal::Unknown);
        }
    }
    Ok(kind)
}

fn text(b: &[u8]) -> Result<Kind, Refusal> {
    let body = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let Ok(s) = std::str::from_utf8(body) else {
        return Err(Refusal::Unknown);
    };
    if s.chars()
        .any(|c| c == '\0' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')))
    {
        return Err(Refusal::Unknown);
    }
    let lower = s.to_ascii_lowercase();
    // SVG is an image written as text; a data address can carry one too.
    if lower.contains("<svg") || lower.contains("data:image/") || lower.contains("data:video/") {
        return Err(Refusal::Picture(
            "an image written as text (SVG or a data address)",
        ));
    }
    Ok(Kind::Text)
}

/// A file name safe to keep and to offer back: its last part, without control characters, at
/// most 120 characters, ending in the extension of what the content is.
pub fn tidy_name(given: &str, kind: Kind) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*'))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(120)
        .collect();
    if name.is_empty() {
        name = "document".into();
    }
    let ext = kind.extension();
    if !name.to_ascii_lowercase().ends_with(&format!(".{ext}")) {
        name = format!("{name}.{ext}");
    }
    name
}

#[cfg(test)]
mod escape_tests {
    use super::*;

    /// A ZIP of stored (uncompressed) files, as an office package is laid out.
    fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let offset = out.len() as u32;
            let crc = 0u32;
            out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central
                .extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0u8; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let at = out.len() as u32;
        let n = files.len() as u16;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn office_files_are_looked_inside_not_judged_by_their_names() {
        let types = b"<?xml version=\"1.0\"?><Types><Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>";
        let plain = stored_zip(&[
            ("[Content_Types].xml", types),
            ("word/document.xml", b"<w:document/>"),
        ]);
        assert_eq!(classify(&plain), Ok(Kind::Docx));
        // A JPEG hidden under a neutral name.
        let hidden = stored_zip(&[
            ("[Content_Types].xml", types),
            ("word/document.xml", b"<w:document/>"),
            ("word/notes.bin", b"\xFF\xD8\xFF\xE0 not really text"),
        ]);
        assert_eq!(classify(&hidden), Err(Refusal::HoldsPicture));
        // A part declared as a picture by name.
        let declared = stored_zip(&[
            (
                "[Content_Types].xml",
                b"<Types><Override PartName=\"/word/a.bin\" ContentType=\"image/png\"/></Types>",
            ),
            ("word/document.xml", b"<w:document/>"),
        ]);
        assert_eq!(classify(&declared), Err(Refusal::HoldsPicture));
        // An OpenDocument file with its first-page preview.
        let mut odt = vec![("mimetype", &b"application/vnd.oasis.opendocument.text"[..])];
        odt.push(("content.xml", b"<office:document-content/>"));
        assert_eq!(classify(&stored_zip(&odt)), Ok(Kind::Odt));
        odt.push(("Thumbnails/thumbnail.png", b"\x89PNG\r\n\x1a\n"));
        assert_eq!(classify(&stored_zip(&odt)), Err(Refusal::HoldsPreview));
    }

    #[test]
    fn escaped_names_and_image_filters_are_seen_through() {
        let doc =
            |body: &str| format!("%PDF-1.7\n1 0 obj << {body} >> endobj\n%%EOF\n").into_bytes();
        assert_eq!(
            classify(&doc("/Type /XObject /Subtype /Im#61ge /Width 2")),
            Err(Refusal::HoldsPicture)
        );
        assert_eq!(
            classify(&doc("/Filter /DCT#44ecode")),
            Err(Refusal::HoldsPicture)
        );
        assert_eq!(
            classify(&doc("/Type /Emb#65ddedFile")),
            Err(Refusal::HoldsAttachment)
        );
        // A '#' that is not an escape changes nothing.
        assert_eq!(classify(&doc("/Title (Item #1 of 3)")), Ok(Kind::Pdf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_known_by_their_bytes_whatever_they_are_called() {
        assert_eq!(
            classify(b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            Err(Refusal::Picture("a JPEG image"))
        );
        assert_eq!(
            classify(b"\0\0\0\x18ftypheic\0\0\0\0"),
            Err(Refusal::Picture("a HEIC photograph"))
        );
        assert_eq!(
            classify(b"\0\0\0\x18ftypisom\0\0\0\0"),
            Err(Refusal::Picture("a video"))
        );
        assert!(matches!(
            classify(b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Err(Refusal::Picture(_))
        ));
        assert_eq!(classify(b""), Err(Refusal::Empty));
        assert_eq!(classify(&vec![b'a'; MAX_BYTES + 1]), Err(Refusal::TooLarge));
        assert_eq!(classify(b"Notes of a call.\n"), Ok(Kind::Text));
        assert_eq!(classify(b"\x00\x01binary"), Err(Refusal::Unknown));
    }

    #[test]
    fn a_pdf_with_an_image_dictionary_or_inline_image_is_refused() {
        assert_eq!(
            classify(b"%PDF-1.7\n1 0 obj << /Type /XObject /Subtype  /Image /Width 4 >>"),
            Err(Refusal::HoldsPicture)
        );
        assert_eq!(
            classify(b"%PDF-1.7\nq BI /W 4 /H 4 /CS /G /BPC 8 ID xxxx EI Q"),
            Err(Refusal::HoldsPicture)
        );
        assert_eq!(
            classify(b"%PDF-1.7\n<< /Type /Filespec /EF << /F 2 0 R >> /Type /EmbeddedFile >>"),
            Err(Refusal::HoldsAttachment)
        );
        assert_eq!(
            classify(
                b"%PDF-1.7\n1 0 obj << /Type /Page /ProcSet [/PDF /Text /ImageB] >> endobj BIRTH"
            ),
            Ok(Kind::Pdf)
        );
    }

    #[test]
    fn names_are_tidied_and_end_in_what_the_content_is() {
        assert_eq!(
            tidy_name("C:\\Users\\x\\notes.docx", Kind::Docx),
            "notes.docx"
        );
        assert_eq!(tidy_name("../../etc/passwd", Kind::Text), "passwd.txt");
        assert_eq!(tidy_name("photo.pdf", Kind::Docx), "photo.pdf.docx");
        assert_eq!(tidy_name("\"a\r\nb\".pdf", Kind::Pdf), "ab.pdf");
        assert_eq!(tidy_name("", Kind::Pdf), "document.pdf");
    }
}
