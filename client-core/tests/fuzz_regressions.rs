//! Inputs the fuzz targets found (fuzz/README.md), and the files of the same kind found by
//! reading calamine's sources, kept as regular tests. Each reproducer is in
//! tests/fixtures/fuzz/ or built here.

use std::sync::mpsc;
use std::time::Duration;

use std::io::{Cursor, Read, Write};

use client_core::excel::{read_import_bytes, write_template};

/// Found by the `excel_import` target: an .xls (CFB) file whose directory sector chain
/// loops: it starts at sector 9, whose FAT entry points to sector 0, whose FAT entry points
/// to itself. calamine 0.38 reads the directory with `cfb::Sectors::get_chain(dir_start,
/// .., usize::MAX)`, which has no cycle check and no bound: it appends the same 512 bytes
/// forever, until an allocation fails and the process aborts. The 7 KB file takes a debug
/// build past 4 GB of memory in 3 s, then `memory allocation of 8589934592 bytes failed`.
/// The `catch_unwind` in `read_import_bytes` cannot help: a failed allocation aborts, it
/// does not panic. So a damaged or hostile .xls chosen for import takes the client down.
///
/// The file must be refused as unreadable (`excel.not_spreadsheet`) instead: the importer
/// now checks the container with the `cfb` crate, which detects the loop, before calamine
/// reads it. The test gives up after one second, so a regression cannot eat the machine.
#[test]
fn xls_with_a_cyclic_directory_chain_is_refused() {
    let bytes: &'static [u8] = include_bytes!("fixtures/fuzz/xls-cyclic-directory-chain.xls");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = read_import_bytes(bytes, Some("损坏.xls"));
        let _ = tx.send(
            result
                .map(|rows| rows.len())
                .map_err(|e| e.code().to_owned()),
        );
    });
    match rx.recv_timeout(Duration::from_secs(1)) {
        Ok(result) => assert_eq!(result, Err("excel.not_spreadsheet".to_owned())),
        // The reader thread is left running: the test binary exits right after this test.
        Err(_) => panic!("still reading the file after 1 s (the cyclic chain is followed)"),
    }
}

/// Import `bytes` in a child process (this test binary, running only test `name`, with
/// `ZHTJ_FUZZ_REGRESSION_CHILD` set) and expect `excel.not_spreadsheet`: an abort then
/// fails the test instead of killing the test binary.
fn refused_in_child_process(name: &str, bytes: &[u8]) {
    if std::env::var_os("ZHTJ_FUZZ_REGRESSION_CHILD").is_some() {
        let code = match read_import_bytes(bytes, Some("损坏")) {
            Ok(rows) => panic!("expected an error, got {} rows", rows.len()),
            Err(e) => e.code().to_owned(),
        };
        assert_eq!(code, "excel.not_spreadsheet");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env("ZHTJ_FUZZ_REGRESSION_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the import of the file failed or aborted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Found by the `excel_import` target (after the cyclic-chain fix): `import.xls` with its
/// sheet's DIMENSIONS record (BIFF 0x0200) changed to rows 0..0xFE000001, one column.
/// calamine 0.38 (`xls.rs:667`, `parse_workbook`) reserves `rows × columns` cells from that
/// record before reading any cell: 4.26e9 cells, `memory allocation of 170456514600 bytes
/// failed`, and the process aborts at once (an allocation failure is no panic, so the
/// importer's `catch_unwind` cannot help). BIFF8 allows 65,536 rows and 256 columns; the
/// file is damaged and must be refused as unreadable (`excel.not_spreadsheet`).
///
/// The importer now reads the sheets' records first (`excel/guard.rs`).
#[test]
fn xls_with_huge_sheet_dimensions_is_refused() {
    refused_in_child_process(
        "xls_with_huge_sheet_dimensions_is_refused",
        include_bytes!("fixtures/fuzz/xls-huge-dimensions.xls"),
    );
}

/// Found by the `excel_import` target (after the two above): `import.xls` with cells whose
/// positions lie far apart (BIFF8 cell records carry 16-bit rows and columns; a column
/// past 255 is already invalid). calamine 0.38 (`Range::from_sparse`, `lib.rs:1051`)
/// allocates the dense grid between the smallest and largest row and column:
/// `memory allocation of 95157346368 bytes failed`, an abort at once. Must be refused as
/// unreadable too (`excel/guard.rs`).
#[test]
fn xls_with_far_apart_cells_is_refused() {
    refused_in_child_process(
        "xls_with_far_apart_cells_is_refused",
        include_bytes!("fixtures/fuzz/xls-far-apart-cells.xls"),
    );
}

/// Found by the `excel_import` target in the test command's fuzz smoke (2026-12-06): a
/// workbook stream whose sector chain holds an invalid next sector (4294967293). The `cfb`
/// crate refuses to read that stream, and the check skipped it; calamine reads on and found
/// its second sheet's DIMENSIONS record declaring rows 0..0x80000007 of 6 columns:
/// `rows × columns` cells reserved, 515 GB, and the process aborts. A workbook stream the
/// `cfb` crate cannot read is now refused as damaged.
#[test]
fn xls_whose_workbook_stream_the_check_cannot_read_is_refused() {
    refused_in_child_process(
        "xls_whose_workbook_stream_the_check_cannot_read_is_refused",
        include_bytes!("fixtures/fuzz/xls-dimensions-rows-times-columns.xls"),
    );
}

/// The import template with one member of its zip changed by `edit`.
fn template_with(member: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("t.xlsx");
    write_template(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut found = false;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().unwrap().into_owned();
        let mut content = String::new();
        file.read_to_string(&mut content).unwrap();
        if name == member {
            found = true;
            content = edit(content);
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(content.as_bytes()).unwrap();
    }
    assert!(found, "the template has no {member}");
    out.finish().unwrap().into_inner()
}

/// Found by reading calamine 0.38 (`Xlsx::read_shared_strings`, which the fuzzer cannot
/// reach through the zip's compression): it reserves a `String` for every distinct string
/// the sharedStrings part declares, before reading one. The template with
/// `uniqueCount="2000000000"` (10 KB) made the client abort with `memory allocation of
/// 48000000000 bytes failed`. The importer now reads the number first (`excel/guard.rs`).
#[test]
fn xlsx_declaring_billions_of_strings_is_refused() {
    let bytes = template_with("xl/sharedStrings.xml", |xml| {
        let at = xml.find("uniqueCount=\"").expect("uniqueCount") + "uniqueCount=\"".len();
        let end = at + xml[at..].find('"').unwrap();
        format!("{}2000000000{}", &xml[..at], &xml[end..])
    });
    refused_in_child_process("xlsx_declaring_billions_of_strings_is_refused", &bytes);
}

/// The same template with its real count still imports (the check refuses no valid file):
/// the template has a header and no data row, so `excel.empty`.
#[test]
fn xlsx_with_its_real_string_count_still_reads() {
    let bytes = template_with("xl/sharedStrings.xml", |xml| xml);
    let err = read_import_bytes(&bytes, Some("t.xlsx")).unwrap_err();
    assert_eq!(err.code(), "excel.empty");
}

/// calamine expands an .ods sheet's repeated cells in memory (`table:number-columns-repeated`
/// up to 16,384 per row, in every row of a small file), so .ods is refused with a request
/// to save as .xlsx, before calamine reads it.
#[test]
fn ods_is_refused_with_what_to_do() {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    out.start_file("mimetype", stored).unwrap();
    out.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    out.start_file("content.xml", stored).unwrap();
    out.write_all(b"<office:document-content/>").unwrap();
    let bytes = out.finish().unwrap().into_inner();
    let err = read_import_bytes(&bytes, Some("下级组织.ods")).unwrap_err();
    assert_eq!(err.code(), "excel.not_spreadsheet");
    let message = err.to_string();
    assert!(
        message.contains(".ods") && message.contains("另存为.xlsx"),
        "{message}"
    );
}
