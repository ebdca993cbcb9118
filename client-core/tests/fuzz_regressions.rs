//! Inputs the fuzz targets found (fuzz/README.md), kept as regular tests. Each reproducer
//! is in tests/fixtures/fuzz/.

use std::sync::mpsc;
use std::time::Duration;

use client_core::excel::read_import_bytes;

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
